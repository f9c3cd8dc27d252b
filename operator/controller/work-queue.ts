/**
 * A keyed work queue like client-go's: a key is queued at most once, never processed by two
 * workers at once (a key added while in process is queued again when done), and failed keys come
 * back after a per-key exponential backoff.
 */
import type { Timers } from '../../common/clock.ts';

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
  #waiters: ((key: string | undefined) => void)[] = [];
  #closed = false;

  /** With `now`, a later addAfter with an earlier deadline moves the deadline up. */
  constructor(timers: Timers, options: { baseDelayMs?: number; maxDelayMs?: number; now?: () => number } = {}) {
    this.#timers = timers;
    this.#now = options.now;
    this.#baseMs = options.baseDelayMs ?? 5;
    this.#maxMs = options.maxDelayMs ?? 60_000;
  }

  get depth(): number {
    return this.#queue.length;
  }

  add(key: string): void {
    if (this.#closed) return;
    if (this.#processing.has(key)) {
      this.#dirty.add(key);
      return;
    }
    if (this.#queued.has(key)) return;
    const waiter = this.#waiters.shift();
    if (waiter !== undefined) {
      this.#processing.add(key);
      waiter(key);
      return;
    }
    this.#queued.add(key);
    this.#queue.push(key);
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
    if (ms <= 0) return this.add(key);
    const handle = this.#timers.setTimeout(() => {
      this.#delayed.delete(key);
      this.add(key);
    }, ms);
    this.#delayed.set(key, { handle, at });
  }

  /** Re-adds a failed key after base x 2^failures (capped). */
  addRateLimited(key: string): number {
    const failures = this.#failures.get(key) ?? 0;
    this.#failures.set(key, failures + 1);
    const delay = Math.min(this.#maxMs, this.#baseMs * 2 ** failures);
    this.addAfter(key, delay);
    return delay;
  }

  forget(key: string): void {
    this.#failures.delete(key);
  }

  /** The next key, or undefined once the queue is shut down. */
  get(): Promise<string | undefined> {
    const key = this.#queue.shift();
    if (key !== undefined) {
      this.#queued.delete(key);
      this.#processing.add(key);
      return Promise.resolve(key);
    }
    if (this.#closed) return Promise.resolve(undefined);
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  done(key: string): void {
    this.#processing.delete(key);
    if (this.#dirty.delete(key)) this.add(key);
  }

  shutDown(): void {
    this.#closed = true;
    for (const { handle } of this.#delayed.values()) this.#timers.clearTimeout(handle);
    this.#delayed.clear();
    for (const wake of this.#waiters.splice(0)) wake(undefined);
  }
}
