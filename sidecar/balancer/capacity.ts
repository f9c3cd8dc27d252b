/**
 * Which backends are full rather than broken: a call that finds every backend full may wait for
 * room (flow-control.ts); one that finds them broken gets its answer at once, as before.
 */
import type { Backend } from './backend.ts';
import type { CapacityProbe } from './flow-control.ts';

/** Would take calls but is full: at max_parallel_requests, a rate limit, or parked after a 429/503 (its own saturation report). */
export function isSaturated(b: Backend, now: number, cost: number): boolean {
  if (b.spec.keyProblem !== undefined || !b.healthOk || b.canaryEjected || !b.breakerAdmits) return false;
  return b.parkedUntil > now || !b.hasRoom(now, cost);
}

export function anySaturated(backends: readonly Backend[], now: number, cost: number): boolean {
  for (const b of backends) if (isSaturated(b, now, cost)) return true;
  return false;
}

/** The probe flow control admits waiters with, over whatever backends are in service now. */
export function capacityProbe(backends: () => readonly Backend[], now: () => number): CapacityProbe {
  return {
    canAdmit(cost) {
      const t = now();
      for (const b of backends()) if (b.isEligible(t, cost)) return true;
      return false;
    },
    msUntilRoom(cost) {
      const t = now();
      let earliest = Number.POSITIVE_INFINITY;
      for (const b of backends()) {
        if (!isSaturated(b, t, cost)) continue;
        // Only rate limits and parking end at a known time; a full max_parallel_requests ends with a release.
        if (b.spec.maxParallelRequests !== undefined && b.inFlight >= b.spec.maxParallelRequests) continue;
        earliest = Math.min(earliest, Math.max(b.parkedUntil - t, b.msUntilRoom(t, cost)));
      }
      return earliest;
    },
  };
}
