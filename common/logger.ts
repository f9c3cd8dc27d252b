import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

/** JSON logs (LOG_LEVEL honoured) on `destination`, or synchronously on stdout; one `component` key. */
export function createLogger(level: string | undefined, destination?: DestinationStream, component = 'reranker-lb'): Logger {
  const options = { level: level ?? 'info', base: { component } };
  return destination === undefined ? pino(options) : pino(options, destination);
}

/** Bytes of log lines that may wait for a slow stdout before new lines are dropped. */
export const LOG_BUFFER_BYTES = 1024 * 1024;

export interface AsyncStdout {
  readonly stream: DestinationStream;
  /** Lines dropped because stdout could not keep up (the buffer was full). */
  dropped(): number;
  /** Writes out what is buffered, synchronously (before exit). */
  flush(): void;
}

/**
 * stdout that never blocks the event loop: lines are written asynchronously; while stdout is
 * slower than the log (a stalled collector, a full pipe), up to LOG_BUFFER_BYTES wait and further
 * lines are dropped and counted, rather than stalling calls behind a write.
 */
export function asyncStdout(maxBytes = LOG_BUFFER_BYTES): AsyncStdout {
  const stream = pino.destination({ dest: 1, sync: false, maxLength: maxBytes });
  let dropped = 0;
  stream.on('drop', () => {
    dropped++;
  });
  return {
    stream,
    dropped: () => dropped,
    flush() {
      try {
        stream.flushSync();
      } catch {
        // stdout closed: nothing more can be written
      }
    },
  };
}
