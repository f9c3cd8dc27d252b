/**
 * The attempt loop: eligibility, then the strategy's choice, then one attempt; failover to a
 * different backend at once, backoff only before trying a backend again, one attempt budget per
 * request, then the local backend or a clear 503/429.
 */
import { EventEmitter } from 'node:events';
import type { RankedAnswer, RerankRequest } from '../api/canonical.ts';
import type { HttpClient } from '../backends/http-client.ts';
import type { LbConfig } from '../config/model.ts';
import { LbError } from '../errors.ts';
import { sleep, type Clock, type Random, type Timers } from '../../common/clock.ts';
import { Backend, type BackendDeps, type SendFn } from './backend.ts';
import { sendRerank } from '../backends/send-rerank.ts';
import { reconcileBackends } from './backend-pool.ts';
import { RetryBudget } from './retry-budget.ts';
import { STRATEGIES, type Strategy } from './strategies/index.ts';
import { afterFailure, afterWait, hedgeDelayMs, nextHedge, nextStep, type PlanContext, type PlanState, type StopReason } from './attempt-plan.ts';
import { chunkRequest, limitsOf, mayNeedSplit, mergeAnswers, modelGroup, planChunks, type CallLimits } from './split-plan.ts';
import { RecentLatency } from './recent-latency.ts';
import { AttemptError } from '../backends/attempt-error.ts';
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
  /** The tightest per-call limits of any backend: calls within them are never split for limits. */
  readonly limits: CallLimits;
  /** Every backend has the same configured model (a split call may use any of them). */
  readonly oneModel: boolean;
}

export interface AttemptRecord {
  readonly backend: string;
  /** HTTP status, or the failure kind (timeout, network, malformed, unavailable). */
  readonly outcome: number | string;
  readonly ms: number;
  /** What the backend said, redacted: for the request log only, never for callers. */
  readonly detail?: string;
  /** Split calls: which chunk (0-based) the attempt was for. */
  readonly chunk?: number;
  /** Hedged calls: this attempt was the hedge. */
  readonly role?: 'hedge';
}

/** Split calls: the caller's documents [start, end) and the backend that served them. */
export interface ChunkRecord {
  readonly documents: readonly [number, number];
  readonly backend: string;
}

export interface RouteResult {
  readonly answer: RankedAnswer;
  readonly backend: string;
  readonly local: boolean;
  readonly attempts: readonly AttemptRecord[];
  readonly estimatedTokens: number;
  /** The config generation the call was routed on (its settings apply to the whole call). */
  readonly generation: Generation;
  /** Split calls only. */
  readonly chunks?: readonly ChunkRecord[];
}

/**
 * One run of the attempt plan — a request, or one chunk of a split call — with what it sends and
 * what the driver notes. One object per run, as the plan state alone was before.
 */
interface Run extends PlanState<Backend> {
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

function newRun(request: RerankRequest, cost: number, plan: GenerationPlan, options: RouteOptions, signal: AbortSignal | undefined, records: AttemptRecord[], chunk: number | undefined): Run {
  return { attempts: 0, tried: [], backoffs: 0, backedOff: false, lastError: undefined, request, cost, plan, options, signal, records, chunk, stopped: 'attempts exhausted', lastBackend: '', winner: '' };
}

/** A hedged call's attempt in flight. */
interface Flight {
  readonly backend: Backend;
  readonly controller: AbortController;
  readonly started: number;
  readonly role: 'hedge' | undefined;
  done: Promise<{ readonly flight: Flight; readonly answer: RankedAnswer | undefined; readonly error: AttemptError | undefined }>;
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
  /** Hedges over the last 10 s, at most `hedge_budget_percent` of the calls started (no floor). */
  readonly #hedgeBudget: RetryBudget;
  /** Recent attempt latencies of hedged calls: the default hedge delay is their p95. */
  readonly #recent = new RecentLatency();
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
          const split = await this.#routeSplit(gen, request, options, deadline, attempts);
          if (split !== undefined) return split;
        }
        const run = newRun(request, cost, new GenerationPlan(gen, gen.backends, cost, deadline, this.#deps), options, options.signal, attempts, undefined);
        const answer = await this.#drive(run);
        if (answer !== undefined) return { answer: withUsage(answer, cost), backend: run.winner, local: false, attempts, estimatedTokens: cost, generation: gen };
        if (run.stopped === 'the caller went away') throw new RouteError(callerGone(), attempts, run.stopped);
        if (!r.fallbackToLocal) {
          const error = this.#nothingLeft(gen, clock.now(), cost, run.lastError, run.lastBackend, run.stopped);
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

  /**
   * Carries out the attempt plan for one request (or one chunk of a split call): the answer, or
   * undefined when the plan stopped (`run.stopped` says why). Throws RouteError when an attempt's
   * failure ends the call (the backend refused the request, the caller went away).
   */
  async #drive(run: Run): Promise<RankedAnswer | undefined> {
    const clock = this.#deps.clock;
    const { plan, signal, chunk } = run;
    for (;;) {
      const now = clock.now();
      const step = nextStep(run, plan, now, isAborted(signal));
      if (step.kind === 'wait') {
        await sleep(this.#deps.timers, step.ms);
        afterWait(run);
        continue;
      }
      if (step.kind === 'stop') {
        run.stopped = step.reason;
        return undefined;
      }
      if (step.isRetry && !this.retryBudget.tryStartRetry()) {
        this.#observer.retryBudgetExhausted();
        run.stopped = 'retry budget exhausted';
        return undefined;
      }
      if (step.isRetry) this.#observer.retry();
      const backend = step.backend;
      try {
        if (plan.hedging) {
          const answer = await this.#attemptHedged(run, backend, step.timeoutMs);
          if (answer !== undefined) return answer;
          continue;
        }
        const answer = await backend.attempt(run.request, { timeoutMs: step.timeoutMs, callerAuthorization: run.options.callerAuthorization, wallNow: clock.wallNow(), signal }, run.cost);
        const ms = clock.now() - now;
        run.records.push(chunk === undefined ? { backend: backend.spec.name, outcome: 200, ms: roundMs(ms) } : { backend: backend.spec.name, outcome: 200, ms: roundMs(ms), chunk });
        this.#observer.attempt(backend.spec.name, 'success', ms / 1000);
        run.winner = backend.spec.name;
        return answer;
      } catch (error) {
        if (error instanceof RouteError) throw error;
        const failure = error as AttemptError;
        this.#failed(run, backend, failure, clock.now() - now, undefined);
      } finally {
        if (step.isRetry) this.retryBudget.retryEnded();
      }
    }
  }

  /** Records a failed attempt; throws RouteError when it ends the call. */
  #failed(run: Run, backend: Backend, failure: AttemptError, ms: number, role: 'hedge' | undefined): void {
    run.lastBackend = backend.spec.name;
    run.records.push(attemptRecord(backend.spec.name, failure, ms, run.chunk, role));
    this.#observer.attempt(backend.spec.name, outcomeOf(failure), ms / 1000);
    if (!failure.retryable) throw new RouteError(finalError(failure, backend.spec.name), run.records);
    afterFailure(run, backend, failure);
  }

  /**
   * One attempt with a hedge: when `backend` has not answered by the hedge delay, the plan's
   * `nextHedge` picks a second backend and, within the hedge and retry budgets, the same call goes
   * there too. The first good answer wins; the other attempt is aborted (its connection closed by
   * the HTTP client) and recorded as cancelled. Undefined when every attempt failed (recorded in `run`).
   */
  async #attemptHedged(run: Run, backend: Backend, timeoutMs: number): Promise<RankedAnswer | undefined> {
    const clock = this.#deps.clock;
    const { plan, signal, chunk, records: attempts } = run;
    const flights: Flight[] = [this.#launch(run, backend, timeoutMs, undefined)];
    const delay = hedgeDelayMs(plan.hedgeAfterMs, this.#recent.p95, timeoutMs);
    let hedgeBudgetTaken = false;
    if (delay !== undefined) {
      let timer: unknown;
      const fired = new Promise<undefined>((resolve) => {
        timer = this.#deps.timers.setTimeout(() => resolve(undefined), delay);
      });
      const first = await Promise.race([flights[0]!.done, fired]);
      this.#deps.timers.clearTimeout(timer);
      if (first === undefined) {
        const step = nextHedge(run, plan, clock.now(), [backend], isAborted(signal));
        if (step.kind === 'attempt') {
          if (this.#hedgeBudget.tryStartRetry()) {
            if (this.retryBudget.tryStartRetry()) {
              hedgeBudgetTaken = true;
              this.#observer.hedge('sent');
              flights.push(this.#launch(run, step.backend, step.timeoutMs, 'hedge'));
            } else this.#hedgeBudget.retryEnded();
          }
          if (!hedgeBudgetTaken) this.#observer.hedge('budget_exhausted');
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
          this.#observer.attempt(f.backend.spec.name, 'success', ms / 1000);
          // The delay is the p95 of first attempts: a hedge's own (short) time would pull it down
          // and hedge ever more calls. A first attempt that lost counts with its time so far (a
          // lower bound of what it would have taken).
          if (f.role === undefined) this.#recent.record(ms);
          if (flights.length > 1) this.#observer.hedge(f.role === 'hedge' ? 'hedge_won' : 'first_won');
          run.winner = f.backend.spec.name;
          // The losers end promptly once aborted; wait, so the log and in-flight counts are exact.
          for (const other of pending) {
            const lost = await other.done;
            const lostMs = clock.now() - other.started;
            if (other.role === undefined) this.#recent.record(lostMs);
            attempts.push(lost.answer === undefined ? attemptRecord(other.backend.spec.name, lost.error!, lostMs, chunk, other.role) : successRecord(other.backend.spec.name, lostMs, chunk, other.role));
            this.#observer.attempt(other.backend.spec.name, lost.answer === undefined ? outcomeOf(lost.error!) : 'success', lostMs / 1000);
          }
          return settled.answer;
        }
        try {
          this.#failed(run, f.backend, settled.error!, ms, f.role);
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
        this.#hedgeBudget.retryEnded();
        this.retryBudget.retryEnded();
      }
    }
  }

  /** Starts one attempt with an AbortController of its own (linked to the caller's signal). */
  #launch(run: Run, backend: Backend, timeoutMs: number, role: 'hedge' | undefined): Flight {
    const controller = new AbortController();
    const own = run.signal === undefined ? controller.signal : AbortSignal.any([run.signal, controller.signal]);
    const clock = this.#deps.clock;
    const flight: Flight = { backend, controller, started: clock.now(), role, done: undefined! };
    flight.done = backend.attempt(run.request, { timeoutMs, callerAuthorization: run.options.callerAuthorization, wallNow: clock.wallNow(), signal: own }, run.cost).then(
      (answer) => ({ flight, answer, error: undefined }),
      (error: unknown) => {
        if (!(error instanceof AttemptError)) throw error;
        return { flight, answer: undefined, error };
      },
    );
    return flight;
  }

  /**
   * A call larger than the backends' limits (or sharded by `shard_min_documents`): chunks routed
   * in parallel, each a run of the attempt plan of its own, all within the call's deadline and the
   * shared retry budget, to backends of one configured model; scores merged, top_n applied once.
   * Undefined when the call needs no split after all, or no backend is eligible (the caller then
   * takes the ordinary path, which ends at the local backend or a clear error).
   */
  async #routeSplit(gen: Generation, request: RerankRequest, options: RouteOptions, deadline: number, attempts: AttemptRecord[]): Promise<RouteResult | undefined> {
    const r = gen.config.router;
    const now = this.#deps.clock.now();
    const eligible = gen.backends.filter((b) => b.isEligible(now, 0));
    if (eligible.length === 0) return undefined;
    let group = gen.backends;
    let limits = gen.limits;
    if (!gen.oneModel) {
      // Scores are comparable within one model only: the strategy's pick decides which model serves.
      const probe = new GenerationPlan(gen, eligible, 0, deadline, this.#deps);
      group = modelGroup(gen.backends, eligible[probe.pick(eligible)]!);
      limits = limitsOf(group);
    }
    const n = request.documents.length;
    const shards = r.shardMinDocuments !== undefined && n >= r.shardMinDocuments ? group.filter((b) => b.isEligible(now, 0)).length : 1;
    const chunks = planChunks(request, limits, shards);
    if (chunks.length < 2) return undefined;
    this.#observer.split(chunks.length);
    const controller = new AbortController();
    const signal = options.signal === undefined ? controller.signal : AbortSignal.any([options.signal, controller.signal]);
    const answers: RankedAnswer[] = new Array(chunks.length);
    const servedBy: string[] = new Array(chunks.length);
    let capacity = 0;
    for (const b of group) capacity += b.spec.maxParallelRequests ?? chunks.length;
    let next = 0;
    let failure: unknown;
    const worker = async (): Promise<void> => {
      while (failure === undefined && next < chunks.length) {
        const c = next++;
        const chunk = chunks[c]!;
        const plan = new GenerationPlan(gen, group, chunk.cost, deadline, this.#deps);
        const run = newRun(chunkRequest(request, chunk), chunk.cost, plan, options, signal, attempts, c);
        if (c > 0) this.retryBudget.requestStarted();
        try {
          const answer = await this.#drive(run);
          if (answer === undefined) {
            const why = run.stopped === 'the caller went away' ? callerGone() : this.#nothingLeft(gen, this.#deps.clock.now(), chunk.cost, run.lastError, run.lastBackend, run.stopped);
            throw new RouteError(why, attempts, `chunk ${c + 1} of ${chunks.length}: ${run.stopped}`);
          }
          answers[c] = withUsage(answer, chunk.cost);
          servedBy[c] = run.winner;
        } catch (error) {
          failure ??= error;
          controller.abort();
        } finally {
          if (c > 0) this.retryBudget.requestEnded();
        }
      }
    };
    const workers: Promise<void>[] = [];
    for (let w = Math.min(chunks.length, capacity); w > 0; w--) workers.push(worker());
    await Promise.all(workers);
    // The first failure speaks for the call; chunks cancelled because of it say nothing.
    if (failure !== undefined) throw failure;
    const names = [...new Set(servedBy)];
    return {
      answer: mergeAnswers(chunks, answers, request.topN),
      backend: names.join(','),
      local: false,
      attempts,
      estimatedTokens: chunks.reduce((sum, chunk) => sum + chunk.cost, 0),
      generation: gen,
      chunks: chunks.map((chunk, c) => ({ documents: [chunk.start, chunk.end], backend: servedBy[c]! })),
    };
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
  readonly hedging: boolean;
  readonly hedgeAfterMs: number | undefined;
  readonly #gen: Generation;
  readonly #cost: number;
  readonly #clock: Clock;

  constructor(gen: Generation, backends: readonly Backend[], cost: number, deadline: number, deps: BalancerDeps) {
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

function attemptRecord(backend: string, failure: AttemptError, ms: number, chunk?: number, role?: 'hedge'): AttemptRecord {
  const record: { -readonly [K in keyof AttemptRecord]: AttemptRecord[K] } = { backend, outcome: failure.status ?? failure.kind, ms: roundMs(ms) };
  if (failure.detail !== undefined) record.detail = failure.detail;
  if (chunk !== undefined) record.chunk = chunk;
  if (role !== undefined) record.role = role;
  return record;
}

function successRecord(backend: string, ms: number, chunk: number | undefined, role: 'hedge' | undefined): AttemptRecord {
  const record: { -readonly [K in keyof AttemptRecord]: AttemptRecord[K] } = { backend, outcome: 200, ms: roundMs(ms) };
  if (chunk !== undefined) record.chunk = chunk;
  if (role !== undefined) record.role = role;
  return record;
}

