/**
 * Active health checks: each backend on its own jittered timer, on its format's health path.
 * `unhealthyThreshold` failures in a row take a backend out; `healthyThreshold` passes bring it back.
 * Follows reloads: backends that leave the config stop being checked.
 */
import { BACKEND_CODECS } from '../backends/formats/index.ts';
import type { HttpClient } from '../backends/http-client.ts';
import { checkHealth } from '../backends/send-rerank.ts';
import type { Backend } from '../balancer/backend.ts';
import type { RouterSettings } from '../config/model.ts';
import type { Random, Timers } from '../util/clock.ts';

export interface HealthDeps {
  readonly client: HttpClient;
  readonly timers: Timers;
  readonly random: Random;
}

interface Watch {
  readonly backend: Backend;
  timer: unknown;
  passes: number;
  fails: number;
  stopped: boolean;
}

/** Health-check path of a backend, or undefined when it is not actively checked. */
export function healthPathOf(backend: Backend, settings: RouterSettings['healthCheck']): string | undefined {
  const spec = backend.spec;
  if (!spec.healthCheckEnabled || spec.healthCheckIntervalMs <= 0 || settings.intervalMs < 0) return undefined;
  return BACKEND_CODECS[spec.apiFormat].healthPath;
}

export class HealthChecker {
  readonly #deps: HealthDeps;
  readonly #watches = new Map<Backend, Watch>();
  #settings: RouterSettings['healthCheck'];

  constructor(settings: RouterSettings['healthCheck'], deps: HealthDeps) {
    this.#settings = settings;
    this.#deps = deps;
  }

  /** Starts checking new backends, stops checking removed ones. */
  sync(backends: readonly Backend[], settings: RouterSettings['healthCheck']): void {
    this.#settings = settings;
    const wanted = new Set(backends.filter((b) => healthPathOf(b, settings) !== undefined));
    for (const [backend, watch] of this.#watches) {
      if (!wanted.has(backend)) this.#stop(watch);
    }
    for (const backend of backends) {
      if (!wanted.has(backend)) {
        backend.healthy = true;
        backend.healthProblem = undefined;
      } else if (!this.#watches.has(backend)) {
        const watch: Watch = { backend, timer: undefined, passes: 0, fails: 0, stopped: false };
        this.#watches.set(backend, watch);
        // First check soon after start, spread so a pool of sidecars does not check in lockstep.
        this.#schedule(watch, Math.min(backend.spec.healthCheckIntervalMs, 1000) * this.#deps.random());
      }
    }
  }

  #schedule(watch: Watch, delayMs: number): void {
    if (watch.stopped) return;
    watch.timer = this.#deps.timers.setTimeout(() => void this.#check(watch), delayMs);
  }

  async #check(watch: Watch): Promise<void> {
    const backend = watch.backend;
    const path = healthPathOf(backend, this.#settings);
    if (path === undefined || watch.stopped) return;
    const problem = await checkHealth(this.#deps.client, backend.target, path, this.#settings.timeoutMs);
    if (watch.stopped) return;
    if (problem === undefined) {
      watch.fails = 0;
      watch.passes++;
      if (!backend.healthy && watch.passes >= this.#settings.healthyThreshold) {
        backend.healthy = true;
        backend.healthProblem = undefined;
      }
    } else {
      watch.passes = 0;
      watch.fails++;
      backend.healthProblem = problem;
      if (watch.fails >= this.#settings.unhealthyThreshold) backend.healthy = false;
    }
    const interval = backend.spec.healthCheckIntervalMs;
    this.#schedule(watch, interval * (0.9 + 0.2 * this.#deps.random()));
  }

  #stop(watch: Watch): void {
    watch.stopped = true;
    this.#deps.timers.clearTimeout(watch.timer);
    this.#watches.delete(watch.backend);
  }

  stop(): void {
    for (const watch of [...this.#watches.values()]) this.#stop(watch);
  }
}
