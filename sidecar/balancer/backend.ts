/**
 * One backend's machinery: in-flight count, breaker, health,
 * limits, latency estimate and counters. Strategies read it through `CandidateView`; they never
 * change it. It survives config reloads while its identity (api_base + model_name) stays.
 */
import type { RankedAnswer, RerankRequest } from '../api/canonical.ts';
import { AttemptError, isCancelled } from '../backends/attempt-error.ts';
import { targetOf, type HttpTarget } from '../backends/http-client.ts';
import { parkedUntil } from '../retry-after.ts';
import { backendHeaders, type SendOptions, type SendTarget } from '../backends/send-rerank.ts';
import type { BackendSpec, BreakerSettings, OutlierSettings, RouterSettings } from '../config/model.ts';
import type { Clock } from '../../common/clock.ts';
import type { CandidateView } from './strategies/types.ts';
import type { BackendLedgers } from '../limits/backend-ledgers.ts';
import { LatencySamples } from './latency-samples.ts';
import { SlidingWindow } from './sliding-window.ts';
import { Breaker, type BreakerState, type BreakerTicket } from './breaker.ts';
import { LoadSignal } from './load-signal.ts';
import { withReportedLimits, type ReportedLimits } from './reported-limits.ts';
import { NOT_EJECTED, outcomeOfFailure, outlierStep, type OutlierState, type PoolView } from './outlier-detection.ts';

/** Sends one attempt (sendRerank over the shared HTTP client; a script in tests). Throws AttemptError. */
export type SendFn = (to: SendTarget, request: RerankRequest, options: SendOptions) => Promise<RankedAnswer>;

export interface BackendDeps {
  readonly send: SendFn;
  readonly clock: Clock;
  /** Shared by a balancer's backends: how many of the backends in service are up right now. */
  readonly healthBoard: { up: number };
  /** Called when an attempt ends (a slot freed): wakes calls queued for capacity. */
  readonly released?: () => void;
  /** The backends of the current config (what outlier detection weighs an ejection against); none: never ejected. */
  readonly members?: () => readonly Backend[];
}

/**
 * `unknown` until the first health check decides. An unknown backend is not eligible while some
 * backend in service is up (a new pod must prove itself first); when none is — a sidecar that has
 * just started, or a rollout that replaced every known-good pod at once — unknown backends are
 * tried rather than refusing calls.
 */
export type HealthState = 'unknown' | 'up' | 'down';

export type ConsistencyState = 'unknown' | 'consistent' | 'inconsistent';

/**
 * Calls in flight beside a half-open probe, at most: enough for the calls that arrive while a
 * probe is answered, few enough that a backend still hanging holds only these.
 */
const MAX_BESIDE_PROBE = 4;

/** What eligibility may overlook in the balancer's ejection panic (generation.ts): nothing, the ejection, or also a half-open probe that is out. */
export type Despite = boolean | 'beside-probe';

export interface CanaryReading {
  /** Kendall rank correlation with the majority's reference ranking (-1..1). */
  readonly correlation: number | null;
  /** Share of the reference's top 3 in this backend's top 3. */
  readonly topKAgreement: number | null;
  /** Wall ms. */
  readonly at: number;
  /** Why no conclusion (the canary call failed, no majority), else undefined. */
  readonly problem: string | undefined;
}

export type { BreakerState } from './breaker.ts';

function sameBreakerSettings(a: BreakerSettings, b: BreakerSettings): boolean {
  return (
    a.allowedFails === b.allowedFails &&
    a.cooldownMs === b.cooldownMs &&
    a.failureThresholdPercent === b.failureThresholdPercent &&
    a.failureThresholdMinRequests === b.failureThresholdMinRequests &&
    a.windowMs === b.windowMs
  );
}

function targetFor(
  spec: BackendSpec,
  router: RouterSettings,
  loadReport: (queueMs: number, inferenceMs: number) => void,
): SendTarget {
  return {
    loadReport,
    target: targetOf(spec.apiBase),
    apiFormat: spec.apiFormat,
    apiKey: spec.apiKey,
    model: spec.model,
    retryOnStatus: router.retryOnStatus,
    forwardCallerAuthorization: spec.forwardCallerAuthorization,
    maxResponseBytes: router.maxResponseBytes,
    headers: backendHeaders(spec.apiKey),
  };
}

export class Backend implements CandidateView {
  /** The spec routed with: the config's, with the backend's reported limits where it set none. */
  spec: BackendSpec;
  #configSpec: BackendSpec;
  /** What the backend told of its limits (TEI /info), if anything. */
  #reportedLimits: ReportedLimits | undefined;
  /** The load the backend reports (answer headers, /metrics). */
  readonly load: LoadSignal;
  #sendTarget: SendTarget;
  #breaker: Breaker;
  readonly #deps: BackendDeps;

  inFlight = 0;
  requests = 0;
  successes = 0;
  failures = 0;
  clientErrors = 0;
  latencyEwma = Number.NaN;
  latencyAt = 0;
  latencyDecayMs: number;
  parkedUntil = 0;
  #health: HealthState = 'unknown';
  /** Calls in flight beside its half-open probe. */
  #besideProbe = 0;
  /** Passive outlier detection (outlier-detection.ts): failures in a row, ejections. */
  outlier: OutlierState = NOT_EJECTED;
  #outlierSettings: OutlierSettings;
  /** Left the config: no longer counted on the health board. */
  #retired = false;
  healthProblem: string | undefined;
  lastError: { message: string; at: number } | undefined;
  /** What the model-consistency canary last concluded (canary/canary.ts). */
  consistency: ConsistencyState = 'unknown';
  /** The canary's last comparison with the pool's majority. */
  canary: CanaryReading | undefined;
  /** Inconsistent with `canary.action: eject`: not eligible until a later round agrees. */
  canaryEjected = false;
  readonly requestWindow = new SlidingWindow();
  readonly tokenWindow = new SlidingWindow();
  readonly latencies = new LatencySamples();
  /** Pool-wide limits drawn from Redis (limits/shared-limits.ts attaches them); undefined: this sidecar's share of spec limits. */
  shared: BackendLedgers | undefined = undefined;

  constructor(spec: BackendSpec, router: RouterSettings, deps: BackendDeps) {
    this.spec = spec;
    this.#configSpec = spec;
    this.#deps = deps;
    this.load = new LoadSignal(router.loadSignal.intervalMs);
    this.load.configure(router.loadSignal.intervalMs, router.flow.saturationQueue, spec.sidecarCount);
    this.#sendTarget = targetFor(spec, router, this.#loadReport);
    this.#breaker = new Breaker(router.breaker);
    this.latencyDecayMs = router.latencyDecayMs;
    this.#outlierSettings = router.outlier;
  }

  get id(): string {
    return this.spec.id;
  }
  get weight(): number {
    return this.spec.weight;
  }
  get priority(): number {
    return this.spec.priority;
  }
  get costPerToken(): number {
    return this.spec.costPerToken;
  }
  get tpmLimit(): number | undefined {
    return this.spec.tpm;
  }
  get origin(): string {
    return this.#sendTarget.target.origin;
  }
  get target(): HttpTarget {
    return this.#sendTarget.target;
  }
  get tokensInWindow(): number {
    return this.tokenWindow.total(this.#deps.clock.now());
  }

  /** Takes the settings of a reloaded config; keeps stats, health, windows and (if its settings are unchanged) the breaker. */
  update(spec: BackendSpec, router: RouterSettings): void {
    const breaker = router.breaker;
    this.#configSpec = spec;
    this.spec = withReportedLimits(spec, this.#reportedLimits);
    this.load.configure(router.loadSignal.intervalMs, router.flow.saturationQueue, spec.sidecarCount);
    this.#sendTarget = targetFor(spec, router, this.#loadReport);
    this.latencyDecayMs = router.latencyDecayMs;
    this.#outlierSettings = router.outlier;
    if (!sameBreakerSettings(breaker, this.#breaker.settings)) this.#breaker = new Breaker(breaker);
  }

  readonly #loadReport = (queueMs: number, inferenceMs: number): void => {
    this.load.fromHeaders(queueMs, inferenceMs, this.#deps.clock.now(), this.inFlight);
  };

  /** The backend's reported queue now (NaN when it reports none, or its report is stale). */
  get reportedQueue(): number {
    return this.load.queueAt(this.#deps.clock.now());
  }

  /** The answer headers' queue now, in service times waited; NaN when stale or never sent. */
  get reportedWait(): number {
    return this.load.waitAt(this.#deps.clock.now());
  }

  get reportedLimits(): ReportedLimits | undefined {
    return this.#reportedLimits;
  }

  /** Takes the limits the backend told (TEI /info); they apply where the config set none. */
  setReportedLimits(limits: ReportedLimits | undefined): void {
    this.#reportedLimits = limits;
    this.spec = withReportedLimits(this.#configSpec, limits);
  }

  get health(): HealthState {
    return this.#health;
  }

  /** Health allows calls: up, or unknown while no backend in service is up. */
  get healthOk(): boolean {
    return this.#health === 'up' || (this.#health === 'unknown' && this.#deps.healthBoard.up === 0);
  }

  #setHealth(next: HealthState): void {
    if (!this.#retired && (this.#health === 'up') !== (next === 'up'))
      this.#deps.healthBoard.up += next === 'up' ? 1 : -1;
    this.#health = next;
  }

  markUp(): void {
    this.#setHealth('up');
    this.healthProblem = undefined;
  }

  /**
   * An active health check passed: an outlier ejection ends now, as Envoy's
   * successful_active_health_check_uneject_host (on by default there). A backend killed and
   * restarted serves again from its next passed check instead of sitting out the rest of a 10 s+
   * ejection while the others fail; its breaker still guards it.
   */
  healthCheckPassed(): void {
    const now = this.#deps.clock.now();
    if (this.outlier.ejectedUntil > now) this.outlier = { ...this.outlier, consecutive: 0, ejectedUntil: now };
  }

  markDown(problem: string): void {
    this.#setHealth('down');
    this.healthProblem = problem;
  }

  /** Leaves service (removed from the config): it stops counting as an up backend at once. */
  retire(): void {
    if (!this.#retired && this.#health === 'up') this.#deps.healthBoard.up--;
    this.#retired = true;
  }

  get breakerState(): BreakerState {
    return this.#breaker.state(this.#deps.clock.now());
  }

  /** Closed, or half-open with its single probe not yet taken. */
  get breakerAdmits(): boolean {
    return this.#breaker.admits(this.#deps.clock.now());
  }

  /** When an open breaker will let a probe through (monotonic ms). */
  get breakerReopensAt(): number {
    return this.#breaker.reopensAt;
  }

  /**
   * May take a new call of `cost` tokens now: takes calls (below) and within
   * rpm/tpm/max_parallel_requests.
   */
  isEligible(now: number, cost: number, despiteEjection: Despite = false): boolean {
    return this.takesCalls(now, despiteEjection) && this.hasRoom(now, cost);
  }

  /**
   * Everything but its limits lets it take a call now: key resolved, health allows, not ejected by
   * the canary, not parked, breaker closed (or half-open with its probe free), and not ejected by
   * outlier detection. `despiteEjection` (the balancer's ejection panic: nothing else can take the
   * call) ignores the ejection; 'beside-probe' also a half-open breaker's probe being out.
   */
  takesCalls(now: number, despiteEjection: Despite = false): boolean {
    return (
      this.spec.keyProblem === undefined &&
      this.healthOk &&
      !this.canaryEjected &&
      this.parkedUntil <= now &&
      (despiteEjection === 'beside-probe'
        ? this.#besideProbe < MAX_BESIDE_PROBE && this.#breaker.admitsAsLastResort(now)
        : (despiteEjection || this.outlier.ejectedUntil <= now) && this.#breaker.admits(now))
    );
  }

  /** Within rpm, tpm and max_parallel_requests for a request of `cost` tokens. */
  hasRoom(now: number, cost: number): boolean {
    if (this.shared !== undefined) return this.shared.hasRoom(now, cost, this.inFlight);
    const spec = this.spec;
    if (spec.maxParallelRequests !== undefined && this.inFlight >= spec.maxParallelRequests) return false;
    if (spec.rpm !== undefined && this.requestWindow.total(now) + 1 > spec.rpm) return false;
    if (spec.tpm !== undefined) {
      const used = this.tokenWindow.total(now);
      // A request larger than the whole limit still goes through an empty window.
      if (used > 0 && used + cost > spec.tpm) return false;
    }
    return true;
  }

  /** Milliseconds until rpm/tpm leave room for a request of `cost` tokens. */
  msUntilRoom(now: number, cost: number): number {
    // The next renewal may bring a lease; the pool's window is not known here.
    if (this.shared !== undefined) return this.shared.timing.renewMs;
    const spec = this.spec;
    const rpmWait = spec.rpm === undefined ? 0 : this.requestWindow.msUntilRoom(now, spec.rpm, 1);
    const tpmWait = spec.tpm === undefined ? 0 : this.tokenWindow.msUntilRoom(now, spec.tpm, Math.min(cost, spec.tpm));
    return Math.max(rpmWait, tpmWait);
  }

  /** One attempt. Throws AttemptError. */
  async attempt(request: RerankRequest, options: SendOptions, cost: number): Promise<RankedAnswer> {
    const clock = this.#deps.clock;
    const started = clock.now();
    // The verdict goes to the breaker that admitted the attempt (a reload may replace it meanwhile).
    const breaker = this.#breaker;
    let ticket = breaker.tryAcquire(started);
    // Only the plan's ejection panic picks an ejected backend (generation.ts), beside its half-open
    // probe when that is out (at most MAX_BESIDE_PROBE, checked there in this same step).
    if (ticket === undefined && this.outlier.ejectedUntil > started) ticket = breaker.tryAcquire(started, true);
    if (ticket === 'beside-probe') this.#besideProbe++;
    if (ticket === undefined)
      throw this.#recordFailure(new AttemptError('unavailable', 'breaker open'), started, undefined);
    this.inFlight++;
    this.requests++;
    this.requestWindow.add(started, 1);
    this.tokenWindow.add(started, cost);
    this.shared?.spend(started, cost, this.inFlight);
    try {
      const answer = await this.#deps.send(this.#sendTarget, request, options);
      const now = clock.now();
      breaker.record(ticket, 'success', now);
      this.successes++;
      if (this.outlier.consecutive !== 0)
        this.outlier = outlierStep(this.outlier, 'success', now, this.#outlierSettings, () => this.#poolView(now));
      this.#recordLatency(now - started, request.documents.length, now);
      if (answer.tokens !== undefined) {
        this.tokenWindow.add(now, answer.tokens - cost);
        this.shared?.correct(now, answer.tokens - cost);
      }
      return answer;
    } catch (error) {
      throw this.#recordFailure(error, started, { breaker, ticket });
    } finally {
      this.inFlight--;
      if (ticket === 'beside-probe') this.#besideProbe--;
      this.#deps.released?.();
    }
  }

  #recordFailure(
    error: unknown,
    started: number,
    admitted: { breaker: Breaker; ticket: BreakerTicket } | undefined,
  ): AttemptError {
    const now = this.#deps.clock.now();
    if (!(error instanceof AttemptError)) {
      // A bug, not the backend's fault: let it surface, and free a half-open probe it held.
      admitted?.breaker.record(admitted.ticket, 'neutral', now);
      throw error;
    }
    const failure = error;
    const verdict = failure.verdict;
    admitted?.breaker.record(admitted.ticket, verdict, now);
    if (failure.clientCaused) this.clientErrors++;
    else if (!isCancelled(failure) && failure.kind !== 'unavailable') this.failures++;
    this.outlier = outlierStep(this.outlier, outcomeOfFailure(failure), now, this.#outlierSettings, () =>
      this.#poolView(now),
    );
    if (failure.parkMs !== undefined) this.parkedUntil = parkedUntil(this.parkedUntil, now, failure.parkMs);
    // A hang is a latency sample: it must make the backend look slow.
    if (failure.kind === 'timeout') this.#recordLatency(now - started, 1, now);
    if (verdict === 'failure' || failure.parkMs !== undefined)
      this.lastError = { message: failure.message, at: this.#deps.clock.wallNow() };
    return failure;
  }

  /** The pool an ejection is weighed against: its size, who is out, whether anyone else can serve. */
  #poolView(now: number): PoolView {
    const members = this.#deps.members?.() ?? [];
    let ejected = 0;
    let othersEligible = false;
    for (const b of members) {
      if (b === this) continue;
      if (b.outlier.ejectedUntil > now) ejected++;
      else if (!othersEligible && b.isEligible(now, 0)) othersEligible = true;
    }
    return { total: members.length, ejected, othersEligible };
  }

  /** Peak-EWMA per document: a slower sample is taken at once, a faster one blends in over time. */
  #recordLatency(ms: number, documents: number, now: number): void {
    this.latencies.record(ms);
    const sample = ms / Math.max(1, documents);
    if (Number.isNaN(this.latencyEwma) || sample > this.latencyEwma) {
      this.latencyEwma = sample;
    } else {
      const keep = Math.exp(-Math.max(0, now - this.latencyAt) / this.latencyDecayMs);
      this.latencyEwma = this.latencyEwma * keep + sample * (1 - keep);
    }
    this.latencyAt = now;
  }

  /**
   * A canary call: sent as is, outside the breaker, stats and limits (it measures the model, not
   * the traffic). Throws AttemptError.
   */
  probe(request: RerankRequest, options: SendOptions): Promise<RankedAnswer> {
    return this.#deps.send(this.#sendTarget, request, options);
  }
}
