/**
 * The fake reranker's hostile answers that outlive one write: trickling, endless, padded and
 * hanging bodies. Each stops when the client goes away; open ones are tracked so close() can
 * end them.
 */
import type { ServerResponse } from 'node:http';

export type Headers = Record<string, string>;

/** Responses still writing or hanging; close() destroys them. `onCount` hears every change. */
export class OpenResponses {
  readonly #open = new Set<ServerResponse>();
  readonly #onCount: (count: number) => void;

  constructor(onCount: (count: number) => void) {
    this.#onCount = onCount;
  }

  track(res: ServerResponse): void {
    this.#open.add(res);
    this.#onCount(this.#open.size);
    res.once('close', () => {
      this.#open.delete(res);
      this.#onCount(this.#open.size);
    });
  }

  destroyAll(): void {
    for (const res of this.#open) res.destroy();
    this.#open.clear();
  }
}

const SPACES = Buffer.alloc(65_536, 0x20);

function spaces(bytes: number): Buffer {
  return bytes <= SPACES.length ? SPACES.subarray(0, bytes) : Buffer.alloc(bytes, 0x20);
}

export interface Trickle {
  readonly chunkBytes: number;
  readonly intervalMs: number;
  /** Infinity: until the client goes away. */
  readonly durationMs: number;
  /** Written last, after the whitespace, so the whole body is valid JSON. */
  readonly tail: string;
}

/** 200 now, whitespace chunks at a steady pace, then `tail`. Skips a beat while the client is not reading. */
export function trickle(res: ServerResponse, headers: Headers, t: Trickle, open: OpenResponses): void {
  open.track(res);
  res.writeHead(200, headers);
  res.flushHeaders();
  const chunk = spaces(t.chunkBytes);
  const started = Date.now();
  const timer = setInterval(function writeChunk() {
    if (Date.now() - started >= t.durationMs) {
      clearInterval(timer);
      res.end(t.tail);
    } else if (!res.writableNeedDrain) res.write(chunk);
  }, t.intervalMs);
  res.once('close', () => clearInterval(timer));
}

/** 200 with `json` led by whitespace, `totalBytes` in all, written as fast as the client reads. */
export function padded(
  res: ServerResponse,
  headers: Headers,
  json: string,
  totalBytes: number,
  open: OpenResponses,
): void {
  open.track(res);
  let remaining = Math.max(0, totalBytes - Buffer.byteLength(json));
  res.writeHead(200, { ...headers, 'content-length': String(remaining + Buffer.byteLength(json)) });
  function pump(): void {
    while (remaining > 0 && !res.destroyed) {
      const chunk = spaces(Math.min(remaining, SPACES.length));
      remaining -= chunk.length;
      if (!res.write(chunk)) {
        res.once('drain', pump);
        return;
      }
    }
    if (!res.destroyed) res.end(json);
  }
  pump();
}

/** 200 headers and one space (a valid start of JSON), then nothing until the client or close() ends it. */
export function hangAfterHeaders(res: ServerResponse, headers: Headers, open: OpenResponses): void {
  open.track(res);
  res.writeHead(200, headers);
  res.write(' ');
}
