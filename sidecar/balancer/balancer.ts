/**
 * The Balancer: applies each config as a new generation (backends kept by identity, removed ones
 * drained), and routes a call on the generation it arrived on: split when it is larger than the
 * backends' limits, else the attempt plan, then the local backend or a clear 503/429. The
 * machinery lives apart from the choice, as in undici's pool-base vs balanced-pool: the plans are
 * pure (attempt-plan.ts, split-plan.ts), the async drivers carry them out (attempt-driver.ts,
 * hedge-driver.ts, split-driver.ts), and a strategy only picks (strategies/).
 */
import { EventEmitter } from 'node:events';
import type { RerankRequest } from '../api/canonical.ts';
import type { HttpClient } from '../backends/http-client.ts';
import type { LbConfig } from '../config/model.ts';
import { LbError } from '../errors.ts';
import type { Clock, Random, Timers } from '../../common/clock.ts';
import { Backend, type BackendDeps, type SendFn } from './backend.ts';
import { sendRerank } from '../backends/send-rerank.ts';
import { reconcileBackends } from './backend-pool.ts';
import { RetryBudget } from './retry-budget.ts';
import { STRATEGIES } from './strategies/index.ts';
import { limitsOf, mayNeedSplit } from './split-plan.ts';
import { RecentLatency } from './recent-latency.ts';
import { AttemptError } from '../backends/attempt-error.ts';
import { estimateTokens } from './token-estimate.ts';
import { NO_OBSERVER, outcomeOf, type BalancerObserver } from './observer.ts';
import { GenerationPlan, type Generation } from './generation.ts';
import { attemptRecord, callerGone, finalError, roundMs, RouteError, withUsage, type AttemptRecord, type RouteOptions, type RouteResult } from './route-result.ts';
import { newRun, type DriverDeps } from './run.ts';
import { drive, nothingLeft } from './attempt-driver.ts';
import { routeSplit } from './split-driver.ts';

export interface BalancerDeps {
  readonly client: HttpClient;
  /** How an attempt is sent; default sendRerank over `client` (tests script it). */
  readonly send?: SendFn;
  readonly observer?: BalancerObserver;
  readonly clock: Clock;
  readonly timers: Timers;
  readonly random: Random;
}

const LOCAL_NAME = 'local';

export class Balancer {
  readonly #deps: BalancerDeps;
  readonly #observer: BalancerObserver;
  readonly #backendDeps: BackendDeps;
  readonly retryBudget: RetryBudget;
  /** Hedges over the last 10 s, at most `hedge_budget_percent` of the calls started (no floor). */
  readonly #hedgeBudget: RetryBudget;
  /** What the drivers carry the plans out with (built once: no per-request closures). */
  readonly #drivers: DriverDeps;
  #generation: Generation;
  #tick: unknown;

  constructor(config: LbConfig, deps: BalancerDeps) {
    this.#deps = deps;
    this.#observer = deps.observer ?? NO_OBSERVER;
    const client = deps.client;
    const send: SendFn = deps.send ?? ((to, request, options) => sendRerank(client, to, request, options));
    this.#backendDeps = { send, clock: deps.clock, breakerTicks: new EventEmitter().setMaxListeners(0), healthBoard: { up: 0 } };
    this.retryBudget = new RetryBudget(config.router.retryBudget.percent, config.router.retryBudget.min, deps.clock);
    this.#hedgeBudget = new RetryBudget(config.router.hedging.budgetPercent, 0, deps.clock);
    this.#drivers = {
      clock: deps.clock,
      timers: deps.timers,
      random: deps.random,
      observer: this.#observer,
      retryBudget: this.retryBudget,
      hedgeBudget: this.#hedgeBudget,
      recent: new RecentLatency(),
    };
    this.#generation = this.#build(config, reconcileBackends([], config, this.#backendDeps).backends, undefined, 1);
    this.#scheduleTick();
  }

  get generation(): Generation {
    return this.#generation;
  }

  /** Swaps in a new config atomically; requests in flight finish on the generation they hold. */
  apply(config: LbConfig): { removed: readonly Backend[] } {
    const previous = this.#generation;
    const change = reconcileBackends(previous.backends, config, this.#backendDeps);
    this.#generation = this.#build(config, change.backends, previous, previous.number + 1);
    this.retryBudget.percent = config.router.retryBudget.percent;
    this.retryBudget.minPerSecond = config.router.retryBudget.min;
    this.#hedgeBudget.percent = config.router.hedging.budgetPercent;
    this.#deps.client.configure({ connectTimeoutMs: config.router.connectTimeoutMs });
    for (const b of change.removed) b.retire();
    const retired = previous.local === this.#generation.local ? change.removed : [...change.removed, previous.local];
    // Removed backends drain: calls in flight may use them until the longest deadline has passed.
    this.#deps.timers.setTimeout(() => {
      for (const b of retired) b.shutdown();
      const current = this.#generation;
      this.#deps.client.retain(new Set([...current.backends, current.local].map((b) => b.origin)));
    }, Math.max(previous.config.router.defaultTimeoutMs, config.router.defaultTimeoutMs));
    return { removed: change.removed };
  }

  #build(config: LbConfig, backends: readonly Backend[], previous: Generation | undefined, number: number): Generation {
    const r = config.router;
    const localSpec = {
      id: `${config.local.apiBase}|${LOCAL_NAME}`,
      name: LOCAL_NAME,
      apiBase: config.local.apiBase,
      apiFormat: config.local.apiFormat,
      apiKey: config.local.apiKey,
      keyProblem: undefined,
      model: undefined,
      weight: 1,
      priority: 0,
      rpm: undefined,
      tpm: undefined,
      maxParallelRequests: undefined,
      timeoutMs: config.local.timeoutMs,
      healthCheckEnabled: false,
      healthCheckIntervalMs: 0,
      costPerToken: 0,
      forwardCallerAuthorization: config.local.forwardCallerAuthorization,
      maxDocumentsPerCall: undefined,
      maxTokensPerCall: undefined,
    };
    let local = previous?.local;
    if (local !== undefined && local.id === localSpec.id) local.update(localSpec, r);
    else local = new Backend(localSpec, r, this.#backendDeps);
    const sameStrategy = previous !== undefined && previous.config.router.strategy === r.strategy;
    return {
      number,
      config,
      backends,
      local,
      strategy: STRATEGIES[r.strategy],
      memory: sameStrategy ? previous.memory : new Map(),
      loadedAt: this.#deps.clock.wallNow(),
      limits: limitsOf(backends),
      oneModel: backends.every((b) => b.spec.model === backends[0]!.spec.model),
    };
  }

  /** Rotates the breakers' rolling windows (10 slices per window) from one timer. */
  #scheduleTick(): void {
    const interval = this.#generation.config.router.breaker.windowMs / 10;
    this.#tick = this.#deps.timers.setTimeout(() => {
      this.#backendDeps.breakerTicks.emit('rotate');
      this.#scheduleTick();
    }, interval);
  }

  /** Routes one call on the generation it pinned (or the current one); throws RouteError. */
  async route(request: RerankRequest, options: RouteOptions): Promise<RouteResult> {
    const gen = options.generation ?? this.#generation;
    const r = gen.config.router;
    const clock = this.#deps.clock;
    const deadline = clock.now() + r.defaultTimeoutMs;
    const cost = estimateTokens(request);
    const attempts: AttemptRecord[] = [];
    const hedging = r.hedging.enabled;
    this.retryBudget.requestStarted();
    if (hedging) this.#hedgeBudget.requestStarted();
    try {
      if (!options.localOnly) {
        if (mayNeedSplit(request.documents.length, cost, gen.limits, r.shardMinDocuments)) {
          const split = await routeSplit(this.#drivers, gen, request, options, deadline, attempts);
          if (split !== undefined) return split;
        }
        const run = newRun(request, cost, new GenerationPlan(gen, gen.backends, cost, deadline, this.#deps), options, options.signal, attempts, undefined);
        const answer = await drive(this.#drivers, run);
        if (answer !== undefined) return { answer: withUsage(answer, cost), backend: run.winner, local: false, attempts, estimatedTokens: cost, generation: gen };
        if (run.stopped === 'the caller went away') throw new RouteError(callerGone(), attempts, run.stopped);
        if (!r.fallbackToLocal) {
          const error = nothingLeft(gen, clock.now(), cost, run.lastError, run.lastBackend, run.stopped);
          if (error.code === 'rate_limited') this.#observer.rateLimited();
          throw new RouteError(error, attempts, run.stopped);
        }
        this.#observer.fallback();
      }
      return await this.#routeLocal(gen, request, options, deadline, cost, attempts);
    } finally {
      this.retryBudget.requestEnded();
      if (hedging) this.#hedgeBudget.requestEnded();
    }
  }

  async #routeLocal(
    gen: Generation,
    request: RerankRequest,
    options: RouteOptions,
    deadline: number,
    cost: number,
    attempts: AttemptRecord[],
  ): Promise<RouteResult> {
    const clock = this.#deps.clock;
    const now = clock.now();
    const timeoutMs = Math.min(gen.local.spec.timeoutMs, deadline - now);
    if (timeoutMs <= 0) throw new RouteError(new LbError('upstream_failed', 504, 'request deadline exceeded', { retryAfterSeconds: 1 }), attempts);
    try {
      const answer = await gen.local.attempt(request, { timeoutMs, callerAuthorization: options.callerAuthorization, wallNow: clock.wallNow(), signal: options.signal }, cost);
      const ms = clock.now() - now;
      attempts.push({ backend: LOCAL_NAME, outcome: 200, ms: roundMs(ms) });
      this.#observer.attempt(LOCAL_NAME, 'success', ms / 1000);
      return { answer: withUsage(answer, cost), backend: LOCAL_NAME, local: !options.localOnly, attempts, estimatedTokens: cost, generation: gen };
    } catch (error) {
      if (!(error instanceof AttemptError)) throw error; // a bug, not the backend's failure
      const failure = error;
      const ms = clock.now() - now;
      attempts.push(attemptRecord(LOCAL_NAME, failure, ms));
      this.#observer.attempt(LOCAL_NAME, outcomeOf(failure), ms / 1000);
      if (failure.clientCaused || failure.kind === 'cancelled') throw new RouteError(finalError(failure, LOCAL_NAME), attempts);
      throw new RouteError(
        new LbError('no_backend_available', 503, `no backend could serve the request; the local backend failed too (${failure.message})`, {
          retryAfterSeconds: 1,
        }),
        attempts,
      );
    }
  }

  close(): void {
    this.#deps.timers.clearTimeout(this.#tick);
    for (const b of this.#generation.backends) b.shutdown();
    this.#generation.local.shutdown();
  }
}
