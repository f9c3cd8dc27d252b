import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

/** JSON logs on stdout (or a given stream, for tests); LOG_LEVEL honoured. */
export function createLogger(level: string | undefined, destination?: DestinationStream): Logger {
  const options = { level: level ?? 'info', base: { component: 'reranker-lb' } };
  return destination === undefined ? pino(options) : pino(options, destination);
}
