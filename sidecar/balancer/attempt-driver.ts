/**
 * The thin async driver of the attempt plan (attempt-plan.ts): it sleeps, sends, records and
 * charges the retry budget; every decision is the plan's. When nothing is left, `nothingLeft` says
 * whether rate limits (429) or unavailability (503) stand in the way.
 */
import type { RankedAnswer } from '../api/canonical.ts';
import { AttemptError } from '../backends/attempt-error.ts';
import { sleep } from '../../common/clock.ts';
import { LbError } from '../errors.ts';
import { rateLimited, retryAfterSeconds } from '../retry-after.ts';
import { afterWait, nextStep, type StopReason } from './attempt-plan.ts';
import type { Generation } from './generation.ts';
import { attemptHedged } from './hedge-driver.ts';
import { roundMs } from './route-result.ts';
import { isAborted, recordFailure, type DriverDeps, type Run } from './run.ts';

/**
 * Carries out the attempt plan for one request (or one chunk of a split call): the answer, or
 * undefined when the plan stopped (`run.stopped` says why). Throws RouteError when an attempt's
 * failure ends the call (the backend refused the request, the caller went away).
 */
export async function drive(deps: DriverDeps, run: Run): Promise<RankedAnswer | undefined> {
  const clock = deps.clock;
  const { plan, signal, chunk } = run;
  for (;;) {
    const now = clock.now();
    const step = nextStep(run, plan, now, isAborted(signal));
    if (step.kind === 'wait') {
      await sleep(deps.timers, step.ms);
      afterWait(run);
      continue;
    }
    if (step.kind === 'stop') return stop(run, step.reason, now);
    if (step.isRetry && !deps.retryBudget.tryStartRetry()) {
      deps.observer.retryBudgetExhausted();
      return stop(run, 'retry budget exhausted', now);
    }
    if (step.isRetry) deps.observer.retry();
    const backend = step.backend;
    try {
      if (plan.hedging) {
        const answer = await attemptHedged(deps, run, backend, step.timeoutMs);
        if (answer !== undefined) return answer;
        continue;
      }
      const answer = await backend.attempt(
        run.request,
        {
          timeoutMs: step.timeoutMs,
          callerAuthorization: run.options.callerAuthorization,
          wallNow: clock.wallNow(),
          signal,
        },
        run.cost,
      );
      const ms = clock.now() - now;
      run.records.push(
        chunk === undefined
          ? { backend: backend.spec.name, outcome: 200, ms: roundMs(ms) }
          : { backend: backend.spec.name, outcome: 200, ms: roundMs(ms), chunk },
      );
      deps.observer.attempt(backend.spec.name, 'success', ms / 1000);
      run.winner = backend.spec.name;
      return answer;
    } catch (error) {
      // A RouteError ends the call; anything but an AttemptError is a bug: let it surface.
      if (!(error instanceof AttemptError)) throw error;
      recordFailure(deps.observer, run, backend, error, clock.now() - now, undefined);
    } finally {
      if (step.isRetry) deps.retryBudget.retryEnded();
    }
  }
}

/**
 * The plan stopped without an answer (the call waits in the queue, gets a 429/503, or goes to the
 * local backend). Where a pool-wide limit's lease is what stood in the way, the next renewal asks
 * for this call too, early, so leases grow with the demand they refused and not only with what
 * they served. A backend that could not take the call anyway (key, health, parked, ejected,
 * breaker) would draw budget it cannot use, from sidecars that can: not noted.
 */
function stop(run: Run, reason: StopReason, now: number): undefined {
  run.stopped = reason;
  if (reason === 'the caller went away') return undefined;
  for (const b of run.plan.backends)
    if (b.shared !== undefined && b.takesCalls(now) && !b.hasRoom(now, run.cost))
      b.shared.noteUnmet(now, run.cost, b.inFlight);
  return undefined;
}

/** 429 when rate limits are what stands in the way, else 503; Retry-After = earliest recovery. */
export function nothingLeft(
  gen: Generation,
  now: number,
  cost: number,
  lastError: AttemptError | undefined,
  lastBackend: string,
  stopped: string,
): LbError {
  let earliestLimit = Number.POSITIVE_INFINITY;
  let earliestOther = Number.POSITIVE_INFINITY;
  for (const b of gen.backends) {
    if (b.spec.keyProblem !== undefined) continue;
    const blockedOtherwise = !b.healthOk || b.parkedUntil > now || b.outlier.ejectedUntil > now || !b.breakerAdmits;
    if (!blockedOtherwise && !b.hasRoom(now, cost)) earliestLimit = Math.min(earliestLimit, b.msUntilRoom(now, cost));
    let wait = 0;
    if (b.parkedUntil > now) wait = Math.max(wait, b.parkedUntil - now);
    if (b.outlier.ejectedUntil > now) wait = Math.max(wait, b.outlier.ejectedUntil - now);
    if (!b.breakerAdmits) wait = Math.max(wait, b.breakerReopensAt - now);
    if (!b.healthOk) wait = Math.max(wait, b.spec.healthCheckIntervalMs);
    earliestOther = Math.min(earliestOther, wait);
  }
  if (Number.isFinite(earliestLimit) && lastError === undefined) {
    return rateLimited('every backend is at its rate limit', earliestLimit);
  }
  const why =
    lastError === undefined
      ? 'no backend is available'
      : `no backend could serve: ${stopped} (last failure: backend ${lastBackend}: ${lastError.message})`;
  return new LbError('no_backend_available', 503, why, {
    retryAfterSeconds: retryAfterSeconds(Math.min(earliestLimit, earliestOther)),
  });
}
