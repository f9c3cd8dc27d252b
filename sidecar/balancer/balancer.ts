/**
 * The Balancer: applies each config as a new generation (backends kept by identity, removed ones
 * drained), and routes a call on the generation it arrived on: split when it is larger than the
 * backends' limits, else the attempt plan, then the local backend or a clear 503/429. The
 * machinery lives apart from the choice, as in undici's pool-base vs balanced-pool: the plans are
 * pure (attempt-plan.ts, split-plan.ts), the async drivers carry them out (attempt-driver.ts,
 * hedge-driver.ts, split-driver.ts), and a strategy only picks (strategies/).
 */
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
import { OWN_MEMORY_KEY } from './strategies/types.ts';
import { limitsOf, mayNeedSplit } from './split-plan.ts';
import { RecentLatency } from './recent-latency.ts';
import { AttemptError, isCancelled } from '../backends/attempt-error.ts';
import { RETRY_SOON_SECONDS } from '../retry-after.ts';
import { estimateTokens } from './token-estimate.ts';
import { NO_OBSERVER, outcomeOf, type BalancerObserver } from './observer.ts';
import { saturationOf, type Generation } from './generation.ts';
import {
  attemptRecord,
  callerGone,
  finalError,
  roundMs,
  RouteError,
  withUsage,
  type AttemptRecord,
  type RouteOptions,
  type RouteResult,
} from './route-result.ts';
import type { DriverDeps } from './run.ts';
import { nothingLeft } from './attempt-driver.ts';
import { routeSplit } from './split-driver.ts';
import { DEFAULT_TENANT, FlowControl, type FlowObserver, type WaitOutcome } from './flow-control.ts';
import { capacityProbe } from './capacity.ts';
import { driveQueued } from './queued-driver.ts';

export interface BalancerDeps {
  readonly client: HttpClient;
  /** How an attempt is sent; default sendRerank over `client` (tests script it). */
  readonly send?: SendFn;
  readonly observer?: BalancerObserver;
  readonly flowObserver?: FlowObserver;
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
  /** The queue when every backend is full; priorities and tenants. */
  readonly flow: FlowControl;
  /** Hedges over the last 10 s, at most `hedge_budget_percent` of the calls started (no floor). */
  readonly #hedgeBudget: RetryBudget;
  /** What the drivers carry the plans out with (built once: no per-request closures). */
  readonly #drivers: DriverDeps;
  #generation: Generation;
  /** Timers that close a removed backend's connections once its calls have drained. */
  readonly #drains = new Set<unknown>();

  constructor(config: LbConfig, deps: BalancerDeps) {
    this.#deps = deps;
    this.#observer = deps.observer ?? NO_OBSERVER;
    const client = deps.client;
    const send: SendFn = deps.send ?? ((to, request, options) => sendRerank(client, to, request, options));
    const flow = new FlowControl(config.router.flow, {
      clock: deps.clock,
      timers: deps.timers,
      probe: capacityProbe(
        () => this.#generation.backends,
        () => saturationOf(this.#generation),
        () => deps.clock.now(),
      ),
      observer: deps.flowObserver,
    });
    this.flow = flow;
    this.#backendDeps = {
      send,
      clock: deps.clock,
      healthBoard: { up: 0 },
      released: () => flow.released(),
      members: () => this.#generation?.backends ?? [],
    };
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
    this.flow.apply(config.router.flow);
    this.#deps.client.configure({ connectTimeoutMs: config.router.connectTimeoutMs });
    for (const b of change.removed) b.retire();
    // Removed backends drain: calls in flight may use them until the longest deadline has passed;
    // then their connections close.
    const drain = this.#deps.timers.setTimeout(
      () => {
        this.#drains.delete(drain);
        const current = this.#generation;
        this.#deps.client.retain(new Set([...current.backends, current.local].map((b) => b.origin)));
      },
      Math.max(previous.config.router.defaultTimeoutMs, config.router.defaultTimeoutMs),
    );
    this.#drains.add(drain);
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
      poolLimits: { rpm: undefined, tpm: undefined, maxParallelRequests: undefined },
      timeoutMs: config.local.timeoutMs,
      healthCheckEnabled: false,
      healthCheckIntervalMs: 0,
      costPerToken: 0,
      forwardCallerAuthorization: config.local.forwardCallerAuthorization,
      maxDocumentsPerCall: undefined,
      maxTokensPerCall: undefined,
      queueMetric: undefined,
      limitsConfigured: { maxDocuments: true, maxParallel: true },
      sidecarCount: 1,
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
      memory: sameStrategy ? keptMemory(previous.memory, backends) : new Map(),
      loadedAt: this.#deps.clock.wallNow(),
      limits: limitsOf(backends),
      oneModel: backends.every((b) => b.spec.model === backends[0]!.spec.model),
    };
  }

  /** A backend told new limits (TEI /info): the per-call limits of the generation in force follow. */
  refreshLimits(): void {
    const gen = this.#generation;
    this.#generation = { ...gen, limits: limitsOf(gen.backends) };
    this.flow.pump();
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
    const flow = this.flow;
    const priority = options.priority ?? 0;
    // Tenants are counted only when a call names one or a per-tenant limit applies (throws 429 past it).
    const tenant =
      options.tenant === undefined && r.flow.tenantMaxInFlight === undefined
        ? undefined
        : flow.enterTenant(options.tenant ?? DEFAULT_TENANT);
    this.retryBudget.requestStarted();
    if (hedging) this.#hedgeBudget.requestStarted();
    try {
      if (!options.localOnly) {
        let admitted = false;
        let refusal: WaitOutcome | undefined;
        let waitUntil: number | undefined;
        if (flow.mustWait(priority)) {
          waitUntil = flow.waitUntil(deadline);
          const outcome = await flow.wait(priority, tenant ?? DEFAULT_TENANT, cost, waitUntil, options.signal);
          if (outcome === 'admitted') admitted = true;
          else refusal = outcome;
        }
        if (refusal === undefined && mayNeedSplit(request.documents.length, cost, gen.limits, r.shardMinDocuments)) {
          if (admitted) flow.afterAdmitted();
          admitted = false;
          const split = await routeSplit(this.#drivers, gen, request, options, deadline, attempts);
          if (split !== undefined) return split;
        }
        if (refusal === undefined) {
          const queued = await driveQueued(
            this.#drivers,
            flow,
            gen,
            request,
            cost,
            options,
            deadline,
            attempts,
            { priority, tenant: tenant ?? DEFAULT_TENANT },
            admitted,
            waitUntil,
          );
          const run = queued.run;
          if (queued.answer !== undefined)
            return {
              answer: withUsage(queued.answer, cost),
              backend: run.winner,
              local: false,
              attempts,
              estimatedTokens: cost,
              generation: gen,
            };
          if (run.stopped === 'the caller went away') throw new RouteError(callerGone(), attempts, run.stopped);
          refusal = queued.refusal;
          if (refusal === undefined && !r.fallbackToLocal) {
            const error = nothingLeft(gen, clock.now(), cost, run.lastError, run.lastBackend, run.stopped);
            if (error.code === 'rate_limited') this.#observer.rateLimited();
            throw new RouteError(error, attempts, run.stopped);
          }
        }
        if (refusal === 'cancelled') throw new RouteError(callerGone(), attempts, 'the caller went away');
        // Counted in reranker_lb_queue_outcomes_total (not as an rpm/tpm rejection).
        if (refusal !== undefined && !r.fallbackToLocal) {
          throw new RouteError(busy(refusal, priority, flow.retryAfterSeconds(cost)), attempts, `queue: ${refusal}`);
        }
        this.#observer.fallback();
      }
      return await this.#routeLocal(gen, request, options, deadline, cost, attempts);
    } finally {
      this.retryBudget.requestEnded();
      if (hedging) this.#hedgeBudget.requestEnded();
      if (tenant !== undefined) flow.leaveTenant(tenant);
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
    if (timeoutMs <= 0)
      throw new RouteError(
        new LbError('upstream_failed', 504, 'request deadline exceeded', { retryAfterSeconds: RETRY_SOON_SECONDS }),
        attempts,
      );
    try {
      const answer = await gen.local.attempt(
        request,
        {
          timeoutMs,
          callerAuthorization: options.callerAuthorization,
          wallNow: clock.wallNow(),
          signal: options.signal,
        },
        cost,
      );
      const ms = clock.now() - now;
      attempts.push({ backend: LOCAL_NAME, outcome: 200, ms: roundMs(ms) });
      this.#observer.attempt(LOCAL_NAME, 'success', ms / 1000);
      return {
        answer: withUsage(answer, cost),
        backend: LOCAL_NAME,
        local: !options.localOnly,
        attempts,
        estimatedTokens: cost,
        generation: gen,
      };
    } catch (error) {
      if (!(error instanceof AttemptError)) throw error; // a bug, not the backend's failure
      const failure = error;
      const ms = clock.now() - now;
      attempts.push(attemptRecord(LOCAL_NAME, failure, ms));
      this.#observer.attempt(LOCAL_NAME, outcomeOf(failure), ms / 1000);
      if (failure.clientCaused || isCancelled(failure)) throw new RouteError(finalError(failure, LOCAL_NAME), attempts);
      throw new RouteError(
        new LbError(
          'no_backend_available',
          503,
          `no backend could serve the request; the local backend failed too (${failure.message})`,
          {
            retryAfterSeconds: RETRY_SOON_SECONDS,
          },
        ),
        attempts,
      );
    }
  }

  /** Stops the queue and the drains of removed backends (the breakers need no timers: they read the clock). */
  close(): void {
    this.flow.close();
    for (const drain of this.#drains) this.#deps.timers.clearTimeout(drain);
    this.#drains.clear();
  }
}

/** The 429 of a call flow control refused, in our words. */
function busy(outcome: WaitOutcome, priority: number, retryAfterSeconds: number): LbError {
  const why =
    outcome === 'shed'
      ? `every backend is busy and the call is sheddable (x-reranker-priority ${priority})`
      : outcome === 'timeout'
        ? 'every backend stayed busy for the whole queue_timeout'
        : outcome === 'displaced'
          ? 'every backend is busy and a call of higher priority took its place in the queue'
          : 'every backend is busy and the queue is full';
  return new LbError('rate_limited', 429, why, { retryAfterSeconds });
}

/**
 * A strategy's memory across a reload: what it kept for backends still in service (round-robin's
 * credits, least-queue's learned capacities) and its own keys (not backend ids); the entries of
 * backends gone are dropped, so discovery churn does not grow it.
 */
function keptMemory(memory: Map<string, number>, backends: readonly Backend[]): Map<string, number> {
  const ids = new Set(backends.map((b) => b.id));
  for (const key of memory.keys()) if (!ids.has(key) && !key.startsWith(OWN_MEMORY_KEY)) memory.delete(key);
  return memory;
}
