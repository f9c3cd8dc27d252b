/**
 * The model-consistency canary: every `canary.interval`, the same fixed query and documents go to
 * every backend of the pool (at most `CONCURRENCY` at once, outside the breakers, stats and
 * limits); the rankings are compared with the majority's (agreement.ts) within each configured
 * model. An inconsistent backend is shown in /lb/stats and the `backend_model_consistent` metric,
 * and with `action: eject` it is not eligible until a later round finds it consistent again.
 * Injected timers, like the health checker: tests drive rounds with `runOnce()`.
 * Once per pool: with a canary plan (canary-role.ts) only the runner's sidecar makes the calls;
 * followers take its verdicts from the plan, so calls per backend do not grow with the sidecars.
 */
import { plainRequest, type RerankRequest } from '../api/canonical.ts';
import type { Backend } from '../balancer/backend.ts';
import type { CanarySettings } from '../config/model.ts';
import type { Clock, Timers } from '../../common/clock.ts';
import type { Logger } from '../../common/logger.ts';
import { judge } from './agreement.ts';
import { OWN, runsRounds, type CanaryRole } from './canary-role.ts';

const CONCURRENCY = 8;

export interface CanaryDeps {
  readonly clock: Clock;
  readonly timers: Timers;
  readonly logger?: Logger;
}

export class Canary {
  readonly #deps: CanaryDeps;
  #backends: readonly Backend[] = [];
  #settings: CanarySettings | undefined;
  #timer: unknown;
  #running: Promise<void> | undefined;
  #stopped = false;
  #role: CanaryRole = OWN;
  /** Wall ms when this sidecar's own last round ended. */
  #lastRoundAt: number | undefined;

  constructor(deps: CanaryDeps) {
    this.#deps = deps;
  }

  /** Follows a reload: the backends and settings of the new generation; restarts the timer. */
  sync(backends: readonly Backend[], settings: CanarySettings): void {
    this.#backends = backends;
    const changed = settings.intervalMs !== this.#settings?.intervalMs;
    this.#settings = settings;
    if (settings.intervalMs <= 0 || settings.action !== 'eject') for (const b of backends) b.canaryEjected = false;
    if (settings.intervalMs <= 0) {
      this.#deps.timers.clearTimeout(this.#timer);
      this.#timer = undefined;
      for (const b of backends) {
        b.consistency = 'unknown';
        b.canary = undefined;
      }
      return;
    }
    if (!runsRounds(this.#role)) {
      this.#applyRole();
      return;
    }
    if (changed || this.#timer === undefined) {
      this.#deps.timers.clearTimeout(this.#timer);
      // First round soon after start or a change, so a wrong model is noticed early.
      this.#schedule(Math.min(settings.intervalMs, 1000));
    }
  }

  get role(): CanaryRole {
    return this.#role;
  }

  /** Wall ms of this sidecar's own last completed round (runner or own), if any. */
  get lastRoundAt(): number | undefined {
    return this.#lastRoundAt;
  }

  /** Follows the pool's canary plan: run rounds here, follow another pod's verdicts, or wait. */
  setRole(role: CanaryRole): void {
    const wasRunning = runsRounds(this.#role);
    this.#role = role;
    if (runsRounds(role)) {
      if (!wasRunning) {
        this.#timer = undefined;
        if (this.#settings !== undefined) this.sync(this.#backends, this.#settings);
      }
      return;
    }
    this.#deps.timers.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#lastRoundAt = undefined;
    this.#applyRole();
  }

  /** Not running rounds: a follower takes the runner's verdicts; waiting keeps what is known. */
  #applyRole(): void {
    const role = this.#role;
    const settings = this.#settings;
    if (role.kind !== 'follower' || settings === undefined || settings.intervalMs <= 0) return;
    const bad = new Set(role.inconsistent);
    const judged = role.judgedAt === undefined ? NaN : Date.parse(role.judgedAt);
    const at = Number.isFinite(judged) ? judged : this.#deps.clock.wallNow(); // the plan's text is not trusted
    for (const b of this.#backends) {
      const inconsistent = bad.has(b.spec.name);
      // Unnamed backends were judged consistent or not yet judged by the runner: this sidecar cannot tell which.
      b.consistency = inconsistent ? 'inconsistent' : 'unknown';
      b.canary = inconsistent ? { correlation: null, topKAgreement: null, at, problem: undefined } : undefined;
      b.canaryEjected = inconsistent && settings.action === 'eject';
    }
  }

  #schedule(ms: number): void {
    if (this.#stopped || !runsRounds(this.#role)) return;
    this.#timer = this.#deps.timers.setTimeout(() => {
      void this.runOnce().finally(() => this.#schedule(this.#settings?.intervalMs ?? 0));
    }, ms);
  }

  /** One round over every backend (a round in progress is joined, never doubled). */
  runOnce(): Promise<void> {
    this.#running ??= this.#round().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  async #round(): Promise<void> {
    const settings = this.#settings;
    if (settings === undefined || settings.intervalMs <= 0 || !runsRounds(this.#role)) return;
    const backends = this.#backends;
    const request = plainRequest(settings.query, settings.documents);
    const rankings: (number[] | undefined)[] = new Array(backends.length);
    let next = 0;
    const worker = async () => {
      while (next < backends.length) {
        const i = next++;
        rankings[i] = await this.#rank(backends[i]!, request, settings.timeoutMs);
      }
    };
    await Promise.all(Array.from({ length: Math.min(CONCURRENCY, backends.length) }, worker));
    if (this.#stopped || settings !== this.#settings || !runsRounds(this.#role)) return;
    // Scores are comparable within one model: compare backends of the same configured model.
    const groups = new Map<string, number[]>();
    backends.forEach((b, i) => {
      const key = b.spec.model ?? '';
      groups.set(key, [...(groups.get(key) ?? []), i]);
    });
    const at = this.#deps.clock.wallNow();
    for (const members of groups.values()) {
      const verdicts = judge(
        members.map((i) => rankings[i]),
        settings.threshold,
      );
      members.forEach((i, k) => {
        const b = backends[i]!;
        const v = verdicts[k]!;
        b.canary = { correlation: v.correlation, topKAgreement: v.topKAgreement, at, problem: v.problem };
        // A failed call or no majority says nothing new: keep the last conclusion.
        if (v.state === 'unknown') return;
        if (v.state !== b.consistency)
          this.#deps.logger?.[v.state === 'inconsistent' ? 'warn' : 'info'](
            { backend: b.spec.name, correlation: v.correlation, action: settings.action },
            `canary: backend ${v.state}`,
          );
        b.consistency = v.state;
        b.canaryEjected = v.state === 'inconsistent' && settings.action === 'eject';
      });
    }
    this.#lastRoundAt = at;
  }

  async #rank(backend: Backend, request: RerankRequest, timeoutMs: number): Promise<number[] | undefined> {
    try {
      const answer = await backend.probe(request, {
        timeoutMs,
        callerAuthorization: undefined,
        wallNow: this.#deps.clock.wallNow(),
        signal: undefined,
      });
      return answer.results.length === request.documents.length ? answer.results.map((r) => r.index) : undefined;
    } catch {
      return undefined;
    }
  }

  stop(): void {
    this.#stopped = true;
    this.#deps.timers.clearTimeout(this.#timer);
  }
}
