/**
 * Passive outlier detection, as Envoy's: what calls already see decides, no probe traffic. After
 * `consecutiveFailures` connection failures, timeouts or 5xx answers in a row a backend is ejected
 * for `baseEjectionMs` x its recent ejections (capped at `maxEjectionMs`), so a backend that keeps
 * failing stays out longer each time. It fills the gap between the kubelet's readiness probes: a
 * force-killed pod stays `ready` in its EndpointSlice until the kubelet or the endpoint controller
 * notices, and every call meanwhile would fail at connect.
 *
 * Never the last backend that could take a call, and never more than `maxEjectionPercent` of the
 * pool at once: an outlier detector that empties the pool turns a partial outage into a full one.
 * The step is pure (state and time in, state out); Backend carries the state, the pool's numbers
 * come from the balancer's current generation.
 */
import type { AttemptError } from '../backends/attempt-error.ts';
import type { OutlierSettings } from '../config/model.ts';

export interface OutlierState {
  /** Failures in a row since the last success. */
  readonly consecutive: number;
  /** Recent ejections: the multiplier of the next one (decays while the backend serves). */
  readonly ejections: number;
  /** Monotonic ms until which the backend is ejected (0: never was). */
  readonly ejectedUntil: number;
}

export const NOT_EJECTED: OutlierState = { consecutive: 0, ejections: 0, ejectedUntil: 0 };

/** What one finished call says: a failure that counts, a success, or nothing about the backend. */
export type CallOutcome = 'success' | 'failure' | 'neutral';

/** The pool around a backend at the moment it would be ejected. */
export interface PoolView {
  /** Backends in the current config. */
  readonly total: number;
  /** Of those, ejected right now (this one not included). */
  readonly ejected: number;
  /** Some other backend could take a call now. */
  readonly othersEligible: boolean;
}

/** Connection failures, timeouts and 5xx count; a 429/503 with Retry-After (parking), client errors and cancellations do not. */
export function outcomeOfFailure(error: AttemptError): CallOutcome {
  if (error.kind === 'network' || error.kind === 'timeout') return 'failure';
  if (error.kind === 'status' && error.parkMs === undefined && (error.status ?? 0) >= 500) return 'failure';
  return 'neutral';
}

/** Ejections forgotten while the backend served: one per `baseEjectionMs` since it came back. */
function recentEjections(state: OutlierState, now: number, settings: OutlierSettings): number {
  if (state.ejections === 0) return 0;
  const served = Math.max(0, now - state.ejectedUntil);
  return Math.max(0, state.ejections - Math.floor(served / settings.baseEjectionMs));
}

/** May one more backend be ejected from this pool now? */
export function mayEject(pool: PoolView, settings: OutlierSettings): boolean {
  return pool.othersEligible && (pool.ejected + 1) * 100 <= pool.total * settings.maxEjectionPercent;
}

/** The next state after one call's outcome at `now`. */
export function outlierStep(
  state: OutlierState,
  outcome: CallOutcome,
  now: number,
  settings: OutlierSettings,
  pool: () => PoolView,
): OutlierState {
  if (settings.consecutiveFailures <= 0 || outcome === 'neutral') return state;
  if (outcome === 'success') return state.consecutive === 0 ? state : { ...state, consecutive: 0 };
  const consecutive = state.consecutive + 1;
  // Calls that were in flight when it was ejected say nothing new.
  if (state.ejectedUntil > now) return state;
  if (consecutive < settings.consecutiveFailures || !mayEject(pool(), settings)) return { ...state, consecutive };
  const ejections = recentEjections(state, now, settings) + 1;
  return {
    consecutive: 0,
    ejections,
    ejectedUntil: now + Math.min(settings.baseEjectionMs * ejections, settings.maxEjectionMs),
  };
}
