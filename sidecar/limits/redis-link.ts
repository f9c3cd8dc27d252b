/**
 * The connection to the pool's Redis, loaded only when a config names one (the Redis-free sidecar
 * never loads the client: it must fit a 96 MiB pod). ioredis runs the Lua scripts by EVALSHA and
 * falls back to EVAL after a restart or SCRIPT FLUSH (NOSCRIPT), reconnects on its own, and gives
 * every command a timeout, so a Redis that accepts and never answers fails a renewal in
 * `commandTimeoutMs` instead of holding it. Commands are never queued while disconnected: a
 * renewal that cannot go now fails now, and the ledgers fall back to their static shares.
 */
import type { RedisOptions } from 'ioredis';
import type { RedisTarget } from '../config/redis-settings.ts';
import type { LeaseTiming } from './lease-timing.ts';
import { RATE_SCRIPT, SLOT_SCRIPT } from './lease-script.ts';

type Reply = (number | string)[];

interface ScriptedClient {
  rrlbRate(key: string, promised: string, seen: string, ...args: (number | string)[]): Promise<Reply>;
  rrlbSlots(key: string, expiries: string, ...args: (number | string)[]): Promise<Reply>;
  on(event: 'error', listener: (error: Error) => void): unknown;
  readonly status: string;
  disconnect(): void;
}

/** Why a renewal failed, in our words (never the server's text, which may echo a setting). */
export function failureKind(error: unknown): string {
  const message = error instanceof Error ? error.message : '';
  if (/NOAUTH|WRONGPASS|invalid password|AUTH/i.test(message)) return 'authentication refused';
  if (/timed out|timeout/i.test(message)) return 'no answer in time';
  if (/ECONNREFUSED/.test(message)) return 'connection refused';
  if (/writeable|offline|Connection is closed|ECONNRESET|EPIPE|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH/i.test(message))
    return 'not connected';
  if (/OOM|READONLY|LOADING|BUSY|MASTERDOWN/.test(message)) return 'redis cannot serve';
  return 'redis error';
}

export class RedisLink {
  readonly target: RedisTarget;
  #client: ScriptedClient | undefined;
  #closed = false;
  #lastError = '';
  readonly #loading: Promise<void>;

  constructor(target: RedisTarget, timing: LeaseTiming, onError: (kind: string) => void) {
    this.target = target;
    this.#loading = this.#open(timing, onError);
  }

  async #open(timing: LeaseTiming, onError: (kind: string) => void): Promise<void> {
    const { Redis } = await import('ioredis');
    if (this.#closed) return;
    const t = this.target;
    const options: RedisOptions = {
      host: t.host,
      port: t.port,
      username: t.username,
      password: t.password,
      db: t.db,
      tls: t.tls ? {} : undefined,
      connectTimeout: timing.fallbackAfterMs,
      commandTimeout: timing.commandTimeoutMs,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      // Back within a second of Redis returning (the promise is 5 s).
      retryStrategy: (times: number) => Math.min(100 * times, 1000),
      lazyConnect: false,
    };
    const client = new Redis(options) as unknown as ScriptedClient & {
      defineCommand(name: string, d: { numberOfKeys: number; lua: string }): void;
    };
    client.defineCommand('rrlbRate', { numberOfKeys: 3, lua: RATE_SCRIPT });
    client.defineCommand('rrlbSlots', { numberOfKeys: 2, lua: SLOT_SCRIPT });
    client.on('error', (error: Error) => {
      // ioredis emits on every failed reconnect: report the kind once per change.
      const kind = failureKind(error);
      if (kind !== this.#lastError) onError(kind);
      this.#lastError = kind;
    });
    this.#client = client;
  }

  /** What the connection last failed with ('' before any failure): a command's own error says only "not connected". */
  get lastProblem(): string {
    return this.#lastError;
  }

  /** Loaded and connected: renewals may be sent. */
  get ready(): boolean {
    return this.#client !== undefined && this.#client.status === 'ready';
  }

  /** The client is still loading (not a failure: nothing was tried yet). */
  get loading(): boolean {
    return this.#client === undefined && !this.#closed;
  }

  whenLoaded(): Promise<void> {
    return this.#loading;
  }

  /** keys: the limit's hash, its promises, when they lapse (lease-script.ts). */
  rate(keys: readonly [string, string, string], args: readonly (number | string)[]): Promise<Reply> {
    const client = this.#client;
    if (client === undefined) return Promise.reject(new Error('not connected'));
    return client.rrlbRate(...keys, ...args);
  }

  slots(key: string, expiries: string, args: readonly (number | string)[]): Promise<Reply> {
    const client = this.#client;
    if (client === undefined) return Promise.reject(new Error('not connected'));
    return client.rrlbSlots(key, expiries, ...args);
  }

  /** Gives this sidecar's slots back at once (a graceful stop); best effort. */
  async release(key: string, expiries: string, id: string, limit: number): Promise<void> {
    if (this.ready) await this.#client!.rrlbSlots(key, expiries, limit, id, 0, 0, 1).catch(() => undefined);
  }

  close(): void {
    this.#closed = true;
    this.#client?.disconnect();
  }
}
