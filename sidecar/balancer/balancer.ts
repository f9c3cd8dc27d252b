/**
 * The attempt loop: eligibility, then the strategy's choice, then one attempt; failover to a
 * different backend at once, backoff only before trying a backend again, one attempt budget per
 * request, then the local backend or a clear 503/429.
 */
import { EventEmitter } from 'node:events';
import type { RankedAnswer, RerankRequest } from '../api/canonical.ts';
import type { AttemptError } from '../backends/attempt-error.ts';
import type { HttpClient } from '../backends/http-client.ts';
import type { LbConfig } from '../config/model.ts';
import { LbError } from '../errors.ts';
import { sleep, type Clock, type Random, type Timers } from '../../common/clock.ts';
import { Backend, type BackendDeps, type SendFn } from './backend.ts';
import { sendRerank } from '../backends/send-rerank.ts';
import { reconcileBackends } from './backend-pool.ts';
import { RetryBudget } from './retry-budget.ts';
import { STRATEGIES, type Strategy } from './strategies/index.ts';
import { afterFailure, afterWait, newPlanState, nextStep, type PlanContext, type StopReason } from './attempt-plan.ts';
import { estimateTokens } from './token-estimate.ts';
import { NO_OBSERVER, outcomeOf, type BalancerObserver } from './observer.ts';

export interface BalancerDeps {
  readonly client: HttpClient;
  /** How an attempt is sent; default sendRerank over `client` (tests script it). */
  readonly send?: SendFn;
  readonly observer?: BalancerObserver;
  readonly clock: Clock;
  readonly timers: Timers;
  readonly random: Random;
}

/** Everything one config generation routes with; a request keeps the generation it started on. */
export interface Generation {
  readonly number: number;
  readonly config: LbConfig;
  readonly backends: readonly Backend[];
  readonly local: Backend;
  readonly strategy: Strategy;
  readonly memory: Map<string, number>;
  readonly loadedAt: number;
}

export interface AttemptRecord {
  readonly backend: string;
  /** HTTP status, or the failure kind (timeout, network, malformed, unavailable). */
  readonly outcome: number | string;
  readonly ms: number;
  /** What the backend said, redacted: for the request log only, never for callers. */
  readonly detail?: string;
}

export interface RouteResult {
  readonly answer: RankedAnswer;
  readonly backend: string;
  readonly local: boolean;
  readonly attempts: readonly AttemptRecord[];
  readonly estimatedTokens: number;
  /** The config generation the call was routed on (its settings apply to the whole call). */
  readonly generation: Generation;
}

export interface RouteOptions {
  readonly callerAuthorization: string | undefined;
  /** Load balancing off: every call goes straight to the local backend. */
  readonly localOnly: boolean;
  /** Aborted when the caller disconnects: attempts in flight are cancelled, none is started. */
  readonly signal?: AbortSignal | undefined;
  /** The generation to route on (the caller pinned it when the call arrived); default the current one. */
  readonly generation?: Generation;
}

/** A route that failed, with what was tried (for the request log). */
export class RouteError extends LbError {
  readonly attempts: readonly AttemptRecord[];
  /** Why no attempt succeeded, in our own words (never a backend's text): for the request log. */
  readonly reason: string | undefined;
  constructor(error: LbError, attempts: readonly AttemptRecord[], reason?: string) {
    super(error.code, error.status, error.message, {
      field: error.field,
      retryAfterSeconds: error.retryAfterSeconds,
      cause: error.cause,
    });
    this.attempts = attempts;
    this.reason = reason;
  }
}

const LOCAL_NAME = 'local';

export class Balancer {
  readonly #deps: BalancerDeps;
  readonly #observer: BalancerObserver;
  readonly #backendDeps: BackendDeps;
  readonly retryBudget: RetryBudget;
  #generation: Generation;
  #tick: unknown;

  constructor(config: LbConfig, deps: BalancerDeps) {
    this.#deps = deps;
    this.#observer = deps.observer ?? NO_OBSERVER;
    const client = deps.client;
    const send: SendFn = deps.send ?? ((to, request, options) => sendRerank(client, to, request, options));
    this.#backendDeps = { send, clock: deps.clock, breakerTicks: new EventEmitter().setMaxListeners(0), healthBoard: { anyUp: false } };
    this.retryBudget = new RetryBudget(config.router.retryBudget.percent, config.router.retryBudget.min, deps.clock);
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
    this.#deps.client.configure({ connectTimeoutMs: config.router.connectTimeoutMs });
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



  async route(request: RerankRequest, options: RouteOptions): Promise<RouteResult> {
    const gen = options.generation ?? this.#generation;
    const r = gen.config.router;
    const clock = this.#deps.clock;
    const deadline = clock.now() + r.defaultTimeoutMs;
    const cost = estimateTokens(request);
    const attempts: AttemptRecord[] = [];
    const signal = options.signal;
    const state = newPlanState<Backend>();
    let lastBackend = '';
    /** Why the loop stopped before a success: said in the final error. */
    let stopped: StopReason = 'attempts exhausted';
    this.retryBudget.requestStarted();
    try {
      if (!options.localOnly) {
        const plan = new GenerationPlan(gen, cost, deadline, this.#deps);
        for (;;) {
          const now = clock.now();
          const step = nextStep(state, plan, now, isAborted(signal));
          if (step.kind === 'wait') {
            await sleep(this.#deps.timers, step.ms);
            afterWait(state);
            continue;
          }
          if (step.kind === 'stop') {
            stopped = step.reason;
            break;
          }
          if (step.isRetry && !this.retryBudget.tryStartRetry()) {
            this.#observer.retryBudgetExhausted();
            stopped = 'retry budget exhausted';
            break;
          }
          if (step.isRetry) this.#observer.retry();
          const backend = step.backend;
          try {
            const answer = await backend.attempt(request, { timeoutMs: step.timeoutMs, callerAuthorization: options.callerAuthorization, wallNow: clock.wallNow(), signal }, cost);
            const ms = clock.now() - now;
            attempts.push({ backend: backend.spec.name, outcome: 200, ms: roundMs(ms) });
            this.#observer.attempt(backend.spec.name, 'success', ms / 1000);
            return { answer: withUsage(answer, cost), backend: backend.spec.name, local: false, attempts, estimatedTokens: cost, generation: gen };
          } catch (error) {
            const failure = error as AttemptError;
            lastBackend = backend.spec.name;
            const ms = clock.now() - now;
            attempts.push(attemptRecord(backend.spec.name, failure, ms));
            this.#observer.attempt(backend.spec.name, outcomeOf(failure), ms / 1000);
            if (!failure.retryable) throw new RouteError(finalError(failure, backend.spec.name), attempts);
            afterFailure(state, backend, failure);
          } finally {
            if (step.isRetry) this.retryBudget.retryEnded();
          }
        }
        if (stopped === 'the caller went away') throw new RouteError(callerGone(), attempts, stopped);
      }
      if (options.localOnly || r.fallbackToLocal) {
        if (!options.localOnly) this.#observer.fallback();
        return await this.#routeLocal(gen, request, options, deadline, cost, attempts);
      }
      const error = this.#nothingLeft(gen, clock.now(), cost, state.lastError, lastBackend, stopped);
      if (error.code === 'rate_limited') this.#observer.rateLimited();
      throw new RouteError(error, attempts, stopped);
    } finally {
      this.retryBudget.requestEnded();
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
      const failure = error as AttemptError;
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

  /** 429 when rate limits are what stands in the way, else 503; Retry-After = earliest recovery. */
  #nothingLeft(gen: Generation, now: number, cost: number, lastError: AttemptError | undefined, lastBackend: string, stopped: string): LbError {
    let earliestLimit = Number.POSITIVE_INFINITY;
    let earliestOther = Number.POSITIVE_INFINITY;
    for (const b of gen.backends) {
      if (b.spec.keyProblem !== undefined) continue;
      const blockedOtherwise = !b.healthOk || b.parkedUntil > now || !b.breakerAdmits;
      if (!blockedOtherwise && !b.hasRoom(now, cost)) earliestLimit = Math.min(earliestLimit, b.msUntilRoom(now, cost));
      let wait = 0;
      if (b.parkedUntil > now) wait = Math.max(wait, b.parkedUntil - now);
      if (!b.breakerAdmits) wait = Math.max(wait, b.breakerReopensAt - now);
      if (!b.healthOk) wait = Math.max(wait, b.spec.healthCheckIntervalMs);
      earliestOther = Math.min(earliestOther, wait);
    }
    const seconds = (ms: number) => Math.max(1, Math.ceil((Number.isFinite(ms) ? ms : 1000) / 1000));
    if (Number.isFinite(earliestLimit) && lastError === undefined) {
      return new LbError('rate_limited', 429, 'every backend is at its rate limit', { retryAfterSeconds: seconds(earliestLimit) });
    }
    const why = lastError === undefined ? 'no backend is available' : `no backend could serve: ${stopped} (last failure: backend ${lastBackend}: ${lastError.message})`;
    return new LbError('no_backend_available', 503, why, { retryAfterSeconds: seconds(Math.min(earliestLimit, earliestOther)) });
  }

  close(): void {
    this.#deps.timers.clearTimeout(this.#tick);
    for (const b of this.#generation.backends) b.shutdown();
    this.#generation.local.shutdown();
  }
}

/** What the attempt plan reads of one generation: its backends, eligibility now, its strategy. */
class GenerationPlan implements PlanContext<Backend> {
  readonly backends: readonly Backend[];
  readonly random: Random;
  readonly numRetries: number;
  readonly retryDelayMs: number;
  readonly deadline: number;
  readonly #gen: Generation;
  readonly #cost: number;
  readonly #clock: Clock;

  constructor(gen: Generation, cost: number, deadline: number, deps: BalancerDeps) {
    const r = gen.config.router;
    this.backends = gen.backends;
    this.random = deps.random;
    this.numRetries = r.numRetries;
    this.retryDelayMs = r.retryDelayMs;
    this.deadline = deadline;
    this.#gen = gen;
    this.#cost = cost;
    this.#clock = deps.clock;
  }

  eligible(backend: Backend): boolean {
    return backend.isEligible(this.#clock.now(), this.#cost);
  }

  pick(candidates: readonly Backend[]): number {
    const gen = this.#gen;
    return gen.strategy(candidates, { random: this.random, now: this.#clock.now(), latencyDecayMs: gen.config.router.latencyDecayMs, memory: gen.memory });
  }
}

function roundMs(ms: number): number {
  return Math.round(ms * 100) / 100;
}

/** A backend that reports no usage is charged the estimate, and says so. */
function withUsage(answer: RankedAnswer, estimate: number): RankedAnswer {
  return answer.tokens === undefined ? { ...answer, tokens: estimate, usageSource: 'estimate' } : answer;
}

/** What the caller is told when an attempt ends the route: our own words, never the backend's. */
function finalError(error: AttemptError, backend: string): LbError {
  if (error.kind === 'cancelled') return callerGone();
  if (error.clientCaused) {
    const status = error.status ?? 400;
    return new LbError('backend_rejected_request', status, `backend ${backend} rejected the request (${error.message}); check the request against the backend's limits and format`);
  }
  return new LbError('upstream_failed', 502, `backend ${backend} failed: ${error.message}`, { retryAfterSeconds: 1 });
}

function isAborted(signal: AbortSignal | undefined): boolean {
  return signal !== undefined && signal.aborted;
}

function callerGone(): LbError {
  return new LbError('client_closed_request', 499, 'the caller closed the connection before the answer was ready');
}

function attemptRecord(backend: string, failure: AttemptError, ms: number): AttemptRecord {
  const record = { backend, outcome: failure.status ?? failure.kind, ms: roundMs(ms) };
  return failure.detail === undefined ? record : { ...record, detail: failure.detail };
}

