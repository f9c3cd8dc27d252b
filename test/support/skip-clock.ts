/**
 * Real time that a test can move forward at once: `skip(ms)` makes every reading `ms` later, so a
 * cooldown or a park ends without the test sleeping through it (and without racing it on a loaded
 * machine). Timers stay real: only what the code reads from the clock jumps.
 */
import { systemClock, type Clock } from '../../common/clock.ts';

export interface SkipClock extends Clock {
  skip(ms: number): void;
}

export function skipClock(base: Clock = systemClock): SkipClock {
  let skipped = 0;
  return {
    now: () => base.now() + skipped,
    wallNow: () => base.wallNow() + skipped,
    skip(ms) {
      skipped += ms;
    },
  };
}
