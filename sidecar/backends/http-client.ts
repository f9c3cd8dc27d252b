/**
 * Keep-alive connection pools, one per backend origin. Requests go straight to the backend: an
 * undici Pool never consults HTTP(S)_PROXY, so backend traffic bypasses any system proxy.
 *
 * Every limit is explicit: one attempt ends `timeoutMs` after it was sent, whether the backend is
 * slow to answer or slow to finish its body (undici's own `bodyTimeout` only notices a body that
 * stops; a body that trickles forever needs a deadline); an answer larger than `maxBytes` is cut;
 * the caller going away aborts the attempt through `signal`.
 */
import { Pool } from 'undici';
import type { Readable } from 'node:stream';

export interface HttpAnswer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** The body of a 2xx answer to a POST, whole (at most `maxBytes`); empty otherwise. */
  readonly body: Buffer;
  /**
   * The first bytes of any other answer, as text. Untrusted: it may echo keys, so it is only ever
   * logged after redaction, never shown to a caller.
   */
  readonly errorText: string;
}

export interface HttpTarget {
  /** e.g. http://10.0.0.7:8000 */
  readonly origin: string;
  /** Path prefix from api_base, without trailing slash ('' when none). */
  readonly prefix: string;
}

export interface RequestLimits {
  /** The whole attempt: from sending the request to the last byte of the answer. */
  readonly timeoutMs: number;
  /** Largest answer body accepted. */
  readonly maxBytes: number;
  /** Aborts the attempt (the caller disconnected). */
  readonly signal?: AbortSignal | undefined;
  /** Read a GET's 2xx body too, up to `maxBytes` (a backend's /info and /metrics). */
  readonly readBody?: boolean;
}

export function targetOf(apiBase: string): HttpTarget {
  const url = new URL(apiBase);
  return { origin: url.origin, prefix: url.pathname.replace(/\/+$/, '') };
}

/** Error bodies are read up to this many bytes; the rest is discarded with the connection. */
const ERROR_TEXT_LIMIT = 2048;
const EMPTY = Buffer.alloc(0);

/** A limit of ours ended the attempt; `code` is stable (RESPONSE_TOO_LARGE, RESPONSE_DEADLINE). */
class ResponseLimitError extends Error {
  readonly code: 'RESPONSE_TOO_LARGE' | 'RESPONSE_DEADLINE';
  constructor(code: 'RESPONSE_TOO_LARGE' | 'RESPONSE_DEADLINE', message: string) {
    super(message);
    this.name = 'ResponseLimitError';
    this.code = code;
  }
}

/**
 * Reads a body to its end within `msLeft` and `maxBytes`. With `truncate`, stops quietly at
 * `maxBytes` (error text) instead of failing.
 */
function readBounded(body: Readable, maxBytes: number, msLeft: number, truncate: boolean): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const timer = setTimeout(onDeadline, Math.max(1, msLeft));
    function finish(error: Error | undefined): void {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      body.off('data', onData);
      body.off('end', onEnd);
      if (error === undefined) {
        resolve(chunks.length === 1 ? chunks[0]! : chunks.length === 0 ? EMPTY : Buffer.concat(chunks, size));
      } else {
        reject(error);
      }
    }
    function onData(chunk: Buffer): void {
      if (size + chunk.length > maxBytes) {
        if (truncate) chunks.push(chunk.subarray(0, maxBytes - size));
        size = Math.min(size + chunk.length, maxBytes);
        const error = truncate
          ? undefined
          : new ResponseLimitError('RESPONSE_TOO_LARGE', `answer larger than ${maxBytes} bytes`);
        finish(error);
        body.destroy();
        return;
      }
      size += chunk.length;
      chunks.push(chunk);
    }
    function onEnd(): void {
      finish(undefined);
    }
    function onError(error: Error): void {
      finish(error);
    }
    function onDeadline(): void {
      finish(new ResponseLimitError('RESPONSE_DEADLINE', 'answer not complete within the time limit'));
      body.destroy();
    }
    body.on('data', onData);
    body.once('end', onEnd);
    body.on('error', onError);
  });
}

export interface PoolSettings {
  /** Time to open a connection (TCP, and TLS for https). */
  readonly connectTimeoutMs: number;
}

export class HttpClient {
  readonly #pools = new Map<string, Pool>();
  #settings: PoolSettings;

  constructor(settings: PoolSettings = { connectTimeoutMs: 2000 }) {
    this.#settings = settings;
  }

  /** New settings apply to pools opened from now on; open ones are replaced on their next use. */
  configure(settings: PoolSettings): void {
    if (settings.connectTimeoutMs === this.#settings.connectTimeoutMs) return;
    this.#settings = settings;
    const old = [...this.#pools.values()];
    this.#pools.clear();
    for (const pool of old) void pool.close().catch(() => undefined);
  }

  #pool(origin: string): Pool {
    let pool = this.#pools.get(origin);
    if (pool === undefined) {
      pool = new Pool(origin, { keepAliveTimeout: 10_000, connect: { timeout: this.#settings.connectTimeoutMs } });
      this.#pools.set(origin, pool);
    }
    return pool;
  }

  async request(
    target: HttpTarget,
    path: string,
    method: 'GET' | 'POST',
    headers: Record<string, string>,
    body: string | undefined,
    limits: RequestLimits,
  ): Promise<HttpAnswer> {
    const sent = performance.now();
    const timeoutMs = Math.max(1, Math.floor(limits.timeoutMs));
    const answer = await this.#pool(target.origin).request({
      path: target.prefix + path,
      method,
      headers,
      body,
      signal: limits.signal,
      // undici's own timers (cheaper than an AbortSignal per call) bound the wait for headers and
      // a stalled body; readBounded bounds the whole body.
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
    const status = answer.statusCode;
    const msLeft = timeoutMs - (performance.now() - sent);
    if (status >= 200 && status < 300 && (method === 'POST' || limits.readBody === true)) {
      const bytes = await readBounded(answer.body, limits.maxBytes, msLeft, false);
      return { status, headers: answer.headers, body: bytes, errorText: '' };
    }
    const text = await readBounded(answer.body, ERROR_TEXT_LIMIT, msLeft, true).then(
      (bytes) => bytes.toString('utf8'),
      () => '',
    );
    return { status, headers: answer.headers, body: EMPTY, errorText: text };
  }

  /** Closes pools whose origin no backend uses any more. */
  retain(origins: ReadonlySet<string>): void {
    for (const [origin, pool] of this.#pools) {
      if (!origins.has(origin)) {
        this.#pools.delete(origin);
        void pool.close().catch(() => undefined);
      }
    }
  }

  async close(): Promise<void> {
    const pools = [...this.#pools.values()];
    this.#pools.clear();
    await Promise.allSettled(pools.map((pool) => pool.close()));
  }
}
