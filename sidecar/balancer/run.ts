/**
 * One run of the attempt plan — a request, or one chunk of a split call — and the machinery the
 * async drivers share (attempt-driver.ts, hedge-driver.ts, split-driver.ts): the clock and timers,
 * the budgets, the observer. The Balancer builds the machinery once; a run is one object per
 * request or chunk.
 */
import type { RerankRequest } from '../api/canonical.ts';
import type { AttemptError } from '../backends/attempt-error.ts';
import type { Clock, Random, Timers } from '../../common/clock.ts';
import { afterFailure, type PlanState, type StopReason } from './attempt-plan.ts';
import type { Backend } from './backend.ts';
import type { GenerationPlan } from './generation.ts';
import { outcomeOf, type BalancerObserver } from './observer.ts';
import type { RecentLatency } from './recent-latency.ts';
import type { RetryBudget } from './retry-budget.ts';
import { attemptRecord, finalError, RouteError, type AttemptRecord, type RouteOptions } from './route-result.ts';

/** What the drivers carry decisions out with; one per Balancer. */
export interface DriverDeps {
  readonly clock: Clock;
  readonly timers: Timers;
  readonly random: Random;
  readonly observer: BalancerObserver;
  readonly retryBudget: RetryBudget;
  /** Hedges over the last 10 s, at most `hedge_budget_percent` of the calls started (no floor). */
  readonly hedgeBudget: RetryBudget;
  /** Recent attempt latencies of hedged calls: the default hedge delay is their p95. */
  readonly recent: RecentLatency;
}

/** The plan state of one run, with what it sends and what the driver notes. */
export interface Run extends PlanState<Backend> {
  readonly request: RerankRequest;
  readonly cost: number;
  readonly plan: GenerationPlan;
  readonly options: RouteOptions;
  /** The caller's signal, or the split call's (which also cancels its chunks). */
  readonly signal: AbortSignal | undefined;
  /** The call's attempt records (shared by the chunks of a split call). */
  readonly records: AttemptRecord[];
  /** Split calls: the chunk this run serves. */
  readonly chunk: number | undefined;
  /** Why the plan stopped before a success. */
  stopped: StopReason;
  lastBackend: string;
  /** The backend that answered. */
  winner: string;
}

export function newRun(
  request: RerankRequest,
  cost: number,
  plan: GenerationPlan,
  options: RouteOptions,
  signal: AbortSignal | undefined,
  records: AttemptRecord[],
  chunk: number | undefined,
): Run {
  return {
    attempts: 0,
    tried: [],
    backoffs: 0,
    backedOff: false,
    lastError: undefined,
    request,
    cost,
    plan,
    options,
    signal,
    records,
    chunk,
    stopped: 'attempts exhausted',
    lastBackend: '',
    winner: '',
  };
}

/** Records a failed attempt; throws RouteError when it ends the call. */
export function recordFailure(
  observer: BalancerObserver,
  run: Run,
  backend: Backend,
  failure: AttemptError,
  ms: number,
  role: 'hedge' | undefined,
): void {
  run.lastBackend = backend.spec.name;
  run.records.push(attemptRecord(backend.spec.name, failure, ms, run.chunk, role));
  observer.attempt(backend.spec.name, outcomeOf(failure), ms / 1000);
  if (!failure.retryable) throw new RouteError(finalError(failure, backend.spec.name), run.records);
  afterFailure(run, backend, failure);
}

export function isAborted(signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true;
}
