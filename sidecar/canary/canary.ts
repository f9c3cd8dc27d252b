/**
 * The model-consistency canary: every `canary.interval`, the same fixed query and documents go to
 * every backend of the pool (at most `CONCURRENCY` at once, outside the breakers, stats and
 * limits); the rankings are compared with the majority's (agreement.ts) within each configured
 * model. An inconsistent backend is shown in /lb/stats and the `backend_model_consistent` metric,
 * and with `action: eject` it is not eligible until a later round finds it consistent again.
 * Injected timers, like the health checker: tests drive rounds with `runOnce()`.
 */
import { plainRequest, type RerankRequest } from '../api/canonical.ts';
import type { Backend } from '../balancer/backend.ts';
import type { CanarySettings } from '../config/model.ts';
import type { Clock, Timers } from '../../common/clock.ts';
import type { Logger } from '../../common/logger.ts';
import { judge } from './agreement.ts';

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
    if (changed || this.#timer === undefined) {
      this.#deps.timers.clearTimeout(this.#timer);
      // First round soon after start or a change, so a wrong model is noticed early.
      this.#schedule(Math.min(settings.intervalMs, 1000));
    }
  }

  #schedule(ms: number): void {
    if (this.#stopped) return;
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
    if (settings === undefined || settings.intervalMs <= 0) return;
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
    if (this.#stopped || settings !== this.#settings) return;
    // Scores are comparable within one model: compare backends of the same configured model.
    const groups = new Map<string, number[]>();
    backends.forEach((b, i) => {
      const key = b.spec.model ?? '';
      groups.set(key, [...(groups.get(key) ?? []), i]);
    });
    const at = this.#deps.clock.wallNow();
    for (const members of groups.values()) {
      const verdicts = judge(members.map((i) => rankings[i]), settings.threshold);
      members.forEach((i, k) => {
        const b = backends[i]!;
        const v = verdicts[k]!;
        b.canary = { correlation: v.correlation, topKAgreement: v.topKAgreement, at, problem: v.problem };
        // A failed call or no majority says nothing new: keep the last conclusion.
        if (v.state === 'unknown') return;
        if (v.state !== b.consistency) this.#deps.logger?.[v.state === 'inconsistent' ? 'warn' : 'info']({ backend: b.spec.name, correlation: v.correlation, action: settings.action }, `canary: backend ${v.state}`);
        b.consistency = v.state;
        b.canaryEjected = v.state === 'inconsistent' && settings.action === 'eject';
      });
    }
  }

  async #rank(backend: Backend, request: RerankRequest, timeoutMs: number): Promise<number[] | undefined> {
    try {
      const answer = await backend.probe(request, { timeoutMs, callerAuthorization: undefined, wallNow: this.#deps.clock.wallNow(), signal: undefined });
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
