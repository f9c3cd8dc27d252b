/**
 * Which backends are full rather than broken: a call that finds every backend full may wait for
 * room (flow-control.ts); one that finds them broken gets its answer at once, as before.
 */
import type { Backend, Despite } from './backend.ts';
import type { CapacityProbe } from './flow-control.ts';

/**
 * Full for this sidecar (`saturation_queue`, queue on): it has its window of calls there, the
 * window learned from the backend's own reports (load-signal.ts). The window is at least one call,
 * whose answer refreshes the report — so a stale "full" never locks a backend out; a stale report
 * (NaN) never says full. A call of positive priority may go `PRIORITY_HEADROOM` calls past the
 * window: a sidecar whose window is taken by default calls does not hold its urgent ones back
 * until one of those ends.
 */
export function reportsSaturation(b: Backend, saturationQueue: number | undefined, now: number, priority = 0): boolean {
  return saturationQueue !== undefined && b.load.saturated(now, b.inFlight - (priority > 0 ? PRIORITY_HEADROOM : 0));
}

/** Calls past its window a sidecar may send a backend for a call of positive priority. */
export const PRIORITY_HEADROOM = 1;

/** May take a new call now: eligible, and not full by its own report. */
export function canTake(
  b: Backend,
  now: number,
  cost: number,
  saturationQueue: number | undefined,
  despiteEjection: Despite = false,
  priority = 0,
): boolean {
  return b.isEligible(now, cost, despiteEjection) && !reportsSaturation(b, saturationQueue, now, priority);
}

/** Would take calls but is full: at max_parallel_requests, a rate limit, or parked after a 429/503 (its own saturation report). */
function isSaturated(
  b: Backend,
  now: number,
  cost: number,
  saturationQueue: number | undefined,
  priority = 0,
): boolean {
  if (b.spec.keyProblem !== undefined || !b.healthOk || b.canaryEjected || !b.breakerAdmits) return false;
  return b.parkedUntil > now || !b.hasRoom(now, cost) || reportsSaturation(b, saturationQueue, now, priority);
}

export function anySaturated(
  backends: readonly Backend[],
  now: number,
  cost: number,
  saturationQueue: number | undefined,
  priority = 0,
): boolean {
  for (const b of backends) if (isSaturated(b, now, cost, saturationQueue, priority)) return true;
  return false;
}

/** The probe flow control admits waiters with, over whatever backends are in service now. */
export function capacityProbe(
  backends: () => readonly Backend[],
  saturationQueue: () => number | undefined,
  now: () => number,
): CapacityProbe {
  return {
    canAdmit(cost, priority) {
      const t = now();
      const threshold = saturationQueue();
      for (const b of backends()) if (canTake(b, t, cost, threshold, false, priority)) return true;
      return false;
    },
    msUntilRoom(cost) {
      const t = now();
      let earliest = Number.POSITIVE_INFINITY;
      for (const b of backends()) {
        // Only rate limits and parking end at a known time (saturation ends with a release).
        if (!isSaturated(b, t, cost, undefined)) continue;
        if (b.spec.maxParallelRequests !== undefined && b.inFlight >= b.spec.maxParallelRequests) continue;
        earliest = Math.min(earliest, Math.max(b.parkedUntil - t, b.msUntilRoom(t, cost)));
      }
      return earliest;
    },
  };
}
