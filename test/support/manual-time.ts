/** A clock and timers that move only when a test says so: `advance(ms)` fires what is due, in order. */
import type { Clock, Timers } from '../../sidecar/util/clock.ts';

export interface ManualTime {
  readonly clock: Clock;
  readonly timers: Timers;
  /** Timers still pending. */
  readonly pending: number;
  advance(ms: number): void;
}

export function manualTime(startWallMs = Date.UTC(2026, 0, 1)): ManualTime {
  let now = 0;
  let next = 0;
  let pending: { at: number; fn: () => void; id: number }[] = [];
  return {
    clock: { now: () => now, wallNow: () => startWallMs + now },
    timers: {
      setTimeout(fn, ms) {
        pending.push({ at: now + Math.max(0, ms), fn, id: ++next });
        return next;
      },
      clearTimeout(id) {
        pending = pending.filter((p) => p.id !== id);
      },
    },
    get pending() {
      return pending.length;
    },
    advance(ms: number) {
      const until = now + ms;
      for (;;) {
        const due = pending.filter((p) => p.at <= until).sort((a, b) => a.at - b.at || a.id - b.id)[0];
        if (due === undefined) break;
        pending = pending.filter((p) => p !== due);
        now = due.at;
        due.fn();
      }
      now = until;
    },
  };
}
