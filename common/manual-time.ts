/** A clock and timers that move only when a test says so: `advance(ms)` fires what falls due. */
import type { Clock, Timers } from './clock.ts';

interface Due {
  readonly at: number;
  readonly seq: number;
  readonly fn: () => void;
}

export class ManualTime implements Clock, Timers {
  #now: number;
  readonly #wallOffset: number;
  #seq = 0;
  readonly #due = new Map<number, Due>();

  /** `start`: the monotonic clock's first reading; `wallStart`: the wall clock's, in epoch ms. */
  constructor(start = 1_000_000, wallStart = 1_700_001_000_000) {
    this.#now = start;
    this.#wallOffset = wallStart - start;
  }

  now(): number {
    return this.#now;
  }

  wallNow(): number {
    return this.#wallOffset + this.#now;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const seq = ++this.#seq;
    this.#due.set(seq, { at: this.#now + Math.max(0, ms), seq, fn });
    return seq;
  }

  clearTimeout(handle: unknown): void {
    this.#due.delete(handle as number);
  }

  /** Timers waiting to fire. */
  get pending(): number {
    return this.#due.size;
  }

  /** Moves time forward, firing each timer that falls due in order (including ones they set). */
  advance(ms: number): void {
    const end = this.#now + ms;
    for (;;) {
      let next: Due | undefined;
      for (const due of this.#due.values())
        if (due.at <= end && (next === undefined || due.at < next.at || (due.at === next.at && due.seq < next.seq)))
          next = due;
      if (next === undefined) break;
      this.#due.delete(next.seq);
      this.#now = next.at;
      next.fn();
    }
    this.#now = end;
  }
}
