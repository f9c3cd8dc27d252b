/**
 * A config generation — everything one config routes with — and what the attempt plan reads of
 * it: its backends, eligibility now, its strategy. A request keeps the generation it started on.
 */
import type { LbConfig } from '../config/model.ts';
import type { Clock, Random } from '../../common/clock.ts';
import type { Backend } from './backend.ts';
import type { Strategy } from './strategies/index.ts';
import type { PlanContext } from './attempt-plan.ts';
import type { CallLimits } from './split-plan.ts';
import { canTake } from './capacity.ts';

/** `saturation_queue` applies only with the queue on. */
export function saturationOf(gen: Generation): number | undefined {
  const flow = gen.config.router.flow;
  return flow.queueTimeoutMs > 0 ? flow.saturationQueue : undefined;
}
import type { EndpointState } from '../../common/discovery/endpoint-slices.ts';

/** Preference by endpoint condition: lower first. */
const TIER: Readonly<Record<EndpointState, number>> = { ready: 0, terminating: 1, 'not-ready': 2 };
/** No backend can take the call in any tier. */
const NO_TIER = 3;

/** Everything one config generation routes with; a request keeps the generation it started on. */
export interface Generation {
  readonly number: number;
  readonly config: LbConfig;
  readonly backends: readonly Backend[];
  readonly local: Backend;
  readonly strategy: Strategy;
  readonly memory: Map<string, number>;
  readonly loadedAt: number;
  /** The tightest per-call limits of any backend: calls within them are never split for limits. */
  readonly limits: CallLimits;
  /** Every backend has the same configured model (a split call may use any of them). */
  readonly oneModel: boolean;
}

/** What the attempt plan reads of one generation: its backends, eligibility now, its strategy. */
export class GenerationPlan implements PlanContext<Backend> {
  readonly backends: readonly Backend[];
  readonly random: Random;
  readonly numRetries: number;
  readonly retryDelayMs: number;
  readonly deadline: number;
  readonly hedging: boolean;
  readonly hedgeAfterMs: number | undefined;
  readonly #gen: Generation;
  readonly #cost: number;
  readonly #clock: Clock;
  /** saturation_queue, when the queue is on (without a queue there is nowhere to wait). */
  readonly #saturationQueue: number | undefined;
  /** The call's priority: a positive one may go a call past a sidecar's window (capacity.ts). */
  readonly #priority: number;
  #best = 0;
  #bestAt = Number.NaN;
  #freeAt = Number.NaN;
  #free = false;

  constructor(
    gen: Generation,
    backends: readonly Backend[],
    cost: number,
    deadline: number,
    deps: { readonly clock: Clock; readonly random: Random },
    priority = 0,
  ) {
    const r = gen.config.router;
    this.backends = backends;
    this.hedging = r.hedging.enabled;
    this.hedgeAfterMs = r.hedging.afterMs;
    this.random = deps.random;
    this.numRetries = r.numRetries;
    this.retryDelayMs = r.retryDelayMs;
    this.deadline = deadline;
    this.#gen = gen;
    this.#cost = cost;
    this.#clock = deps.clock;
    this.#saturationQueue = saturationOf(gen);
    this.#priority = priority;
  }

  eligible(backend: Backend): boolean {
    const now = this.#clock.now();
    if (!canTake(backend, now, this.#cost, this.#saturationQueue, false, this.#priority)) {
      // Outlier ejection is a guess from a few failures in a row, not a health verdict: when it
      // has ejected every backend that could otherwise take the call (each ejection spared
      // others that have failed since), the ejected ones take it rather than nobody (Envoy's
      // panic mode ignores ejections the same way).
      if (backend.outlier.ejectedUntil <= now || this.#bestTier(now) !== NO_TIER) return false;
      if (canTake(backend, now, this.#cost, this.#saturationQueue, true, this.#priority)) return true;
      // Every ejected backend that could take it has its half-open breaker's probe out: a call
      // beside a probe rather than a refusal (its verdict changes nothing; breaker.ts). Never
      // while one of them has its probe free, so a hung probe does not draw every call.
      return (
        !this.#anyEjectedFree(now) &&
        canTake(backend, now, this.#cost, this.#saturationQueue, 'beside-probe', this.#priority)
      );
    }
    // Endpoints by condition: ready (and static backends) first; a terminating one (still
    // serving while its pod shuts down) only when none of those can take the call; a not-ready
    // one only when nothing else can (Envoy's panic routing: a readiness probe that fails under
    // load must not turn a slow pool into no pool).
    const tier = TIER[backend.spec.endpoint ?? 'ready'];
    return tier === 0 || tier <= this.#bestTier(now);
  }

  /** Some ejected backend can take this call with its breaker closed or its probe free (once per step). */
  #anyEjectedFree(now: number): boolean {
    if (this.#freeAt !== now) {
      this.#freeAt = now;
      this.#free = this.backends.some(
        (b) => b.outlier.ejectedUntil > now && canTake(b, now, this.#cost, this.#saturationQueue, true, this.#priority),
      );
    }
    return this.#free;
  }

  /** The best tier any backend can take this call in (asked only for a lower-tier backend; once per step). */
  #bestTier(now: number): number {
    if (this.#bestAt !== now) {
      this.#bestAt = now;
      let best = NO_TIER;
      for (const b of this.backends) {
        const tier = TIER[b.spec.endpoint ?? 'ready'];
        if (tier < best && canTake(b, now, this.#cost, this.#saturationQueue, false, this.#priority)) best = tier;
        if (best === 0) break;
      }
      this.#best = best;
    }
    return this.#best;
  }

  pick(candidates: readonly Backend[]): number {
    const gen = this.#gen;
    return gen.strategy(candidates, {
      random: this.random,
      now: this.#clock.now(),
      latencyDecayMs: gen.config.router.latencyDecayMs,
      memory: gen.memory,
    });
  }
}
