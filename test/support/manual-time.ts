/** The operator tests' view of common/manual-time.ts: a clock and timers as two objects. */
import { ManualTime } from '../../common/manual-time.ts';
import type { Clock, Timers } from '../../common/clock.ts';

export interface ManualTimeParts {
  readonly clock: Clock;
  readonly timers: Timers;
  /** Timers still pending. */
  readonly pending: number;
  advance(ms: number): void;
}

/** Monotonic time starts at 0, wall time at `startWallMs`. */
export function manualTime(startWallMs = Date.UTC(2026, 0, 1)): ManualTimeParts {
  const time = new ManualTime(0, startWallMs);
  return {
    // Bound, so tests may pass `clock.now` around on its own.
    clock: { now: () => time.now(), wallNow: () => time.wallNow() },
    timers: { setTimeout: (fn, ms) => time.setTimeout(fn, ms), clearTimeout: (handle) => time.clearTimeout(handle) },
    get pending() {
      return time.pending;
    },
    advance: (ms) => time.advance(ms),
  };
}
