/**
 * A keyed work queue like client-go's: a key is queued at most once, never processed by two
 * workers at once (a key added while in process is queued again when done), and failed keys come
 * back after a per-key exponential backoff.
 */
import type { Timers } from '../../common/clock.ts';

/** What the queue reports for metrics (client-go's workqueue metrics). Times need the queue's `now`. */
export interface QueueObserver {
  /** A key waited this long in the queue before a worker took it (0: a worker was waiting). */
  waited(seconds: number): void;
  /** A worker held a key this long, from get to done. */
  worked(seconds: number): void;
  /** A failed key was queued again after a backoff. */
  retried(): void;
}

export class WorkQueue {
  readonly #timers: Timers;
  readonly #baseMs: number;
  readonly #maxMs: number;
  readonly #queue: string[] = [];
  readonly #queued = new Set<string>();
  readonly #processing = new Set<string>();
  readonly #dirty = new Set<string>();
  readonly #failures = new Map<string, number>();
  readonly #delayed = new Map<string, { handle: unknown; at: number }>();
  readonly #now: (() => number) | undefined;
  readonly #observer: QueueObserver | undefined;
  /** When each queued key was added, and when each key in process was taken (with an observer and `now`). */
  readonly #queuedAt = new Map<string, number>();
  readonly #takenAt = new Map<string, number>();
  #waiters: ((key: string | undefined) => void)[] = [];
  #closed = false;

  /** With `now`, a later addAfter with an earlier deadline moves the deadline up, and the observer is told times. */
  constructor(
    timers: Timers,
    options: { baseDelayMs?: number; maxDelayMs?: number; now?: () => number; observer?: QueueObserver } = {},
  ) {
    this.#timers = timers;
    this.#now = options.now;
    this.#observer = options.observer;
    this.#baseMs = options.baseDelayMs ?? 5;
    this.#maxMs = options.maxDelayMs ?? 60_000;
  }

  get depth(): number {
    return this.#queue.length;
  }

  add(key: string): void {
    if (this.#closed) return;
    const now = this.#observer === undefined ? undefined : this.#now?.();
    if (this.#processing.has(key)) {
      // Queued again when done; its wait counts from now, as client-go's Add does.
      this.#dirty.add(key);
      if (now !== undefined && !this.#queuedAt.has(key)) this.#queuedAt.set(key, now);
      return;
    }
    if (this.#queued.has(key)) return;
    const since = this.#queuedAt.get(key) ?? now;
    const waiter = this.#waiters.shift();
    if (waiter !== undefined) {
      this.#queuedAt.delete(key);
      this.#take(key, since === undefined ? 0 : now! - since);
      waiter(key);
      return;
    }
    this.#queued.add(key);
    this.#queue.push(key);
    if (since !== undefined) this.#queuedAt.set(key, since);
  }

  /** A worker takes `key`, which waited `waitedMs` (undefined: unknown). */
  #take(key: string, waitedMs: number | undefined): void {
    this.#processing.add(key);
    const now = this.#now?.();
    if (now === undefined || this.#observer === undefined) return;
    if (waitedMs !== undefined) this.#observer.waited(waitedMs / 1000);
    this.#takenAt.set(key, now);
  }

  /** Adds after `ms`; the earliest deadline asked for wins (without `now`: the first one). */
  addAfter(key: string, ms: number): void {
    if (this.#closed) return;
    const at = (this.#now?.() ?? 0) + ms;
    const pending = this.#delayed.get(key);
    if (pending !== undefined) {
      if (this.#now === undefined || pending.at <= at) return;
      this.#timers.clearTimeout(pending.handle);
      this.#delayed.delete(key);
    }
    if (ms <= 0) {
      this.add(key);
      return;
    }
    const handle = this.#timers.setTimeout(() => {
      this.#delayed.delete(key);
      this.add(key);
    }, ms);
    this.#delayed.set(key, { handle, at });
  }

  /** Re-adds a failed key after base x 2^failures (capped), or `atLeastMs` if longer (a server's Retry-After). */
  addRateLimited(key: string, atLeastMs = 0): number {
    const failures = this.#failures.get(key) ?? 0;
    this.#failures.set(key, failures + 1);
    const delay = Math.max(atLeastMs, Math.min(this.#maxMs, this.#baseMs * 2 ** failures));
    this.addAfter(key, delay);
    this.#observer?.retried();
    return delay;
  }

  forget(key: string): void {
    this.#failures.delete(key);
  }

  /**
   * The next key, or undefined once the queue is shut down or `signal` (the worker's lifetime)
   * aborts: a worker waiting when its term ends returns at once and is handed no key.
   */
  get(signal?: AbortSignal): Promise<string | undefined> {
    if (signal?.aborted) return Promise.resolve(undefined);
    const key = this.#queue.shift();
    if (key !== undefined) {
      this.#queued.delete(key);
      const queuedAt = this.#queuedAt.get(key);
      this.#queuedAt.delete(key);
      this.#take(key, queuedAt === undefined ? undefined : this.#now!() - queuedAt);
      return Promise.resolve(key);
    }
    if (this.#closed) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      if (signal === undefined) {
        this.#waiters.push(resolve);
        return;
      }
      const onAbort = () => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        resolve(undefined);
      };
      const waiter = (k: string | undefined) => {
        signal.removeEventListener('abort', onAbort);
        resolve(k);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.#waiters.push(waiter);
    });
  }

  /** Workers waiting for a key. */
  get waiting(): number {
    return this.#waiters.length;
  }

  done(key: string): void {
    this.#processing.delete(key);
    const takenAt = this.#takenAt.get(key);
    if (takenAt !== undefined) {
      this.#takenAt.delete(key);
      this.#observer?.worked((this.#now!() - takenAt) / 1000);
    }
    if (this.#dirty.delete(key)) this.add(key);
  }

  shutDown(): void {
    this.#closed = true;
    for (const { handle } of this.#delayed.values()) this.#timers.clearTimeout(handle);
    this.#delayed.clear();
    for (const wake of this.#waiters.splice(0)) wake(undefined);
  }
}
