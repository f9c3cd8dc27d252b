/**
 * Carries out one hedged attempt: when the backend has not answered by the hedge delay, the plan's
 * `nextHedge` (attempt-plan.ts) picks a second backend and, within the hedge and retry budgets,
 * the same call goes there too. The first good answer wins; the other attempt is aborted (its
 * connection closed by the HTTP client) and recorded as cancelled.
 */
import type { RankedAnswer } from '../api/canonical.ts';
import { AttemptError } from '../backends/attempt-error.ts';
import { hedgeDelayMs, nextHedge } from './attempt-plan.ts';
import type { Backend } from './backend.ts';
import { outcomeOf } from './observer.ts';
import { attemptRecord, successRecord, type RouteError } from './route-result.ts';
import { isAborted, recordFailure, type DriverDeps, type Run } from './run.ts';

/** A hedged call's attempt in flight. */
interface Flight {
  readonly backend: Backend;
  readonly controller: AbortController;
  readonly started: number;
  readonly role: 'hedge' | undefined;
  done: Promise<{
    readonly flight: Flight;
    readonly answer: RankedAnswer | undefined;
    readonly error: AttemptError | undefined;
  }>;
}

/**
 * One attempt at `backend` with a hedge. Undefined when every attempt failed (recorded in `run`);
 * throws RouteError when a failure ends the call.
 */
export async function attemptHedged(
  deps: DriverDeps,
  run: Run,
  backend: Backend,
  timeoutMs: number,
): Promise<RankedAnswer | undefined> {
  const clock = deps.clock;
  const { plan, signal, chunk, records: attempts } = run;
  const flights: Flight[] = [launch(deps, run, backend, timeoutMs, undefined)];
  const delay = hedgeDelayMs(plan.hedgeAfterMs, deps.recent.p95, timeoutMs);
  let hedgeBudgetTaken = false;
  if (delay !== undefined) {
    let timer: unknown;
    const fired = new Promise<undefined>((resolve) => {
      timer = deps.timers.setTimeout(() => resolve(undefined), delay);
    });
    const first = await Promise.race([flights[0]!.done, fired]);
    deps.timers.clearTimeout(timer);
    if (first === undefined) {
      const step = nextHedge(run, plan, clock.now(), [backend], isAborted(signal));
      if (step.kind === 'attempt') {
        if (deps.hedgeBudget.tryStartRetry()) {
          if (deps.retryBudget.tryStartRetry()) {
            hedgeBudgetTaken = true;
            deps.observer.hedge('sent');
            flights.push(launch(deps, run, step.backend, step.timeoutMs, 'hedge'));
          } else deps.hedgeBudget.retryEnded();
        }
        if (!hedgeBudgetTaken) deps.observer.hedge('budget_exhausted');
      }
    }
  }
  try {
    let pending = flights;
    let fatal: RouteError | undefined;
    while (pending.length > 0) {
      const settled = await Promise.race(pending.map((f) => f.done));
      pending = pending.filter((f) => f !== settled.flight);
      const f = settled.flight;
      const ms = clock.now() - f.started;
      if (settled.answer !== undefined) {
        for (const other of pending) other.controller.abort();
        attempts.push(successRecord(f.backend.spec.name, ms, chunk, f.role));
        deps.observer.attempt(f.backend.spec.name, 'success', ms / 1000);
        // The delay is the p95 of first attempts: a hedge's own (short) time would pull it down
        // and hedge ever more calls. A first attempt that lost counts with its time so far (a
        // lower bound of what it would have taken).
        if (f.role === undefined) deps.recent.record(ms);
        if (flights.length > 1) deps.observer.hedge(f.role === 'hedge' ? 'hedge_won' : 'first_won');
        run.winner = f.backend.spec.name;
        // The losers end promptly once aborted; wait, so the log and in-flight counts are exact.
        for (const other of pending) {
          const lost = await other.done;
          const lostMs = clock.now() - other.started;
          if (other.role === undefined) deps.recent.record(lostMs);
          attempts.push(
            lost.answer === undefined
              ? attemptRecord(other.backend.spec.name, lost.error!, lostMs, chunk, other.role)
              : successRecord(other.backend.spec.name, lostMs, chunk, other.role),
          );
          deps.observer.attempt(
            other.backend.spec.name,
            lost.answer === undefined ? outcomeOf(lost.error!) : 'success',
            lostMs / 1000,
          );
        }
        return settled.answer;
      }
      try {
        recordFailure(deps.observer, run, f.backend, settled.error!, ms, f.role);
      } catch (error) {
        // The call is over (refused, or the caller left): cancel the other attempt too.
        fatal ??= error as RouteError;
        for (const other of pending) other.controller.abort();
      }
    }
    if (fatal !== undefined) throw fatal;
    return undefined;
  } finally {
    if (hedgeBudgetTaken) {
      deps.hedgeBudget.retryEnded();
      deps.retryBudget.retryEnded();
    }
  }
}

/** Starts one attempt with an AbortController of its own (linked to the caller's signal). */
function launch(deps: DriverDeps, run: Run, backend: Backend, timeoutMs: number, role: 'hedge' | undefined): Flight {
  const controller = new AbortController();
  const own = run.signal === undefined ? controller.signal : AbortSignal.any([run.signal, controller.signal]);
  const clock = deps.clock;
  const flight: Flight = { backend, controller, started: clock.now(), role, done: undefined! };
  flight.done = backend
    .attempt(
      run.request,
      { timeoutMs, callerAuthorization: run.options.callerAuthorization, wallNow: clock.wallNow(), signal: own },
      run.cost,
    )
    .then(
      (answer) => ({ flight, answer, error: undefined }),
      (error: unknown) => {
        if (!(error instanceof AttemptError)) throw error;
        return { flight, answer: undefined, error };
      },
    );
  return flight;
}
