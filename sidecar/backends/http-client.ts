/**
 * Keep-alive connection pools, one per backend origin. Requests go straight to the backend: an
 * undici Pool never consults HTTP(S)_PROXY, so backend traffic bypasses any system proxy.
 */
import { Pool } from 'undici';

export interface HttpAnswer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** Parsed JSON for 2xx answers; the first bytes of text otherwise. */
  readonly body: unknown;
}

export interface HttpTarget {
  /** e.g. http://10.0.0.7:8000 */
  readonly origin: string;
  /** Path prefix from api_base, without trailing slash ('' when none). */
  readonly prefix: string;
}

export function targetOf(apiBase: string): HttpTarget {
  const url = new URL(apiBase);
  return { origin: url.origin, prefix: url.pathname.replace(/\/+$/, '') };
}

const ERROR_TEXT_LIMIT = 300;

export class HttpClient {
  readonly #pools = new Map<string, Pool>();

  #pool(origin: string): Pool {
    let pool = this.#pools.get(origin);
    if (pool === undefined) {
      pool = new Pool(origin, { keepAliveTimeout: 10_000, connect: { timeout: 5_000 } });
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
    timeoutMs: number,
  ): Promise<HttpAnswer> {
    const answer = await this.#pool(target.origin).request({
      path: target.prefix + path,
      method,
      headers,
      body,
      // undici's own timers (cheaper than an AbortSignal per call): no headers within the time
      // limit, or a body that stalls that long, ends the attempt.
      headersTimeout: Math.max(1, Math.floor(timeoutMs)),
      bodyTimeout: Math.max(1, Math.floor(timeoutMs)),
    });
    const status = answer.statusCode;
    if (status >= 200 && status < 300 && method === 'POST') {
      return { status, headers: answer.headers, body: await answer.body.json() };
    }
    const text = await answer.body.text();
    return { status, headers: answer.headers, body: text.length > ERROR_TEXT_LIMIT ? text.slice(0, ERROR_TEXT_LIMIT) : text };
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
