/** Splits a watch response (one JSON event per line) into events, with a bound on one line. */

export interface WatchEvent {
  readonly type: string;
  readonly object: unknown;
}

/** One event is one object; the apiserver refuses objects over ~1.5 MiB (etcd), so 16 MiB is generous. */
export const MAX_WATCH_LINE_BYTES = 16 * 1024 * 1024;

export async function* readWatchLines(
  body: AsyncIterable<Uint8Array>,
  maxLineBytes: number,
): AsyncGenerator<WatchEvent> {
  const decoder = new TextDecoder();
  let pending = '';
  for await (const chunk of body) {
    pending += decoder.decode(chunk, { stream: true });
    for (let newline = pending.indexOf('\n'); newline >= 0; newline = pending.indexOf('\n')) {
      const line = pending.slice(0, newline).trim();
      pending = pending.slice(newline + 1);
      if (line !== '') yield parseEvent(line);
    }
    if (pending.length > maxLineBytes) throw new Error(`watch event longer than ${maxLineBytes} bytes`);
  }
  const rest = (pending + decoder.decode()).trim();
  if (rest !== '') yield parseEvent(rest);
}

function parseEvent(line: string): WatchEvent {
  const parsed = JSON.parse(line) as { type?: unknown; object?: unknown };
  if (typeof parsed.type !== 'string') throw new Error('watch event without a type');
  return { type: parsed.type, object: parsed.object };
}
