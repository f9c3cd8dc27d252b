/**
 * Active health checks: each backend on its own jittered timer, on its format's health path.
 * A backend starts `unknown`; `healthyThreshold` passes in a row bring it up (its first pass
 * brings an unknown backend up at once), `unhealthyThreshold` failures in a row take it down.
 * At most `concurrency` checks run at once — a pool of hundreds of unreachable backends must not
 * hold hundreds of sockets in SYN-SENT — and first checks are spread over the first second or the
 * interval, whichever is shorter. Follows reloads: backends that leave the config stop being checked.
 */
import { BACKEND_CODECS } from '../backends/formats/index.ts';
import type { HttpClient } from '../backends/http-client.ts';
import { checkHealth } from './check.ts';
import type { Backend } from '../balancer/backend.ts';
import type { RouterSettings } from '../config/model.ts';
import type { Random, Timers } from '../../common/clock.ts';

export interface HealthDeps {
  readonly client: HttpClient;
  readonly timers: Timers;
  readonly random: Random;
  /** Runs one check; defaults to an HTTP GET on the format's health path (injected in tests). */
  readonly check?: (backend: Backend, path: string, timeoutMs: number) => Promise<string | undefined>;
}

interface Watch {
  readonly backend: Backend;
  timer: unknown;
  passes: number;
  fails: number;
  stopped: boolean;
}

/** Health-check path of a backend, or undefined when it is not actively checked. */
function healthPathOf(backend: Backend): string | undefined {
  const spec = backend.spec;
  if (!spec.healthCheckEnabled || spec.healthCheckIntervalMs <= 0) return undefined;
  return BACKEND_CODECS[spec.apiFormat].healthPath;
}

export class HealthChecker {
  readonly #deps: HealthDeps;
  readonly #watches = new Map<Backend, Watch>();
  /** Checks waiting for a free slot, in order. */
  readonly #waiting: Watch[] = [];
  #running = 0;
  #settings: RouterSettings['healthCheck'];

  constructor(settings: RouterSettings['healthCheck'], deps: HealthDeps) {
    this.#settings = settings;
    this.#deps = deps;
  }

  /** Checks in flight right now. */
  get running(): number {
    return this.#running;
  }

  /** Starts checking new backends, stops checking removed ones. */
  sync(backends: readonly Backend[], settings: RouterSettings['healthCheck']): void {
    this.#settings = settings;
    const wanted = new Set(backends.filter((b) => healthPathOf(b) !== undefined));
    for (const [backend, watch] of this.#watches) {
      if (!wanted.has(backend)) this.#stop(watch);
    }
    for (const backend of backends) {
      if (!wanted.has(backend)) {
        backend.markUp(); // not checked: trusted, as its breaker still guards it
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
    watch.timer = this.#deps.timers.setTimeout(() => this.#admit(watch), delayMs);
  }

  #admit(watch: Watch): void {
    if (watch.stopped) return;
    if (this.#running >= this.#settings.concurrency) {
      this.#waiting.push(watch);
      return;
    }
    this.#running++;
    void this.#check(watch).finally(() => {
      this.#running--;
      const next = this.#waiting.shift();
      if (next !== undefined) this.#admit(next);
    });
  }

  async #check(watch: Watch): Promise<void> {
    const backend = watch.backend;
    const path = healthPathOf(backend);
    if (path === undefined || watch.stopped) return;
    const check =
      this.#deps.check ?? ((b: Backend, p: string, t: number) => checkHealth(this.#deps.client, b.target, p, t));
    const problem = await check(backend, path, this.#settings.timeoutMs);
    if (watch.stopped) return;
    if (problem === undefined) {
      watch.fails = 0;
      watch.passes++;
      backend.healthCheckPassed();
      if (
        backend.health === 'unknown' ||
        (backend.health === 'down' && watch.passes >= this.#settings.healthyThreshold)
      )
        backend.markUp();
    } else {
      watch.passes = 0;
      watch.fails++;
      backend.healthProblem = problem;
      if (watch.fails >= this.#settings.unhealthyThreshold) backend.markDown(problem);
    }
    const interval = backend.spec.healthCheckIntervalMs;
    this.#schedule(watch, interval * (0.9 + 0.2 * this.#deps.random()));
  }

  #stop(watch: Watch): void {
    watch.stopped = true;
    this.#deps.timers.clearTimeout(watch.timer);
    this.#watches.delete(watch.backend);
    const queued = this.#waiting.indexOf(watch);
    if (queued >= 0) this.#waiting.splice(queued, 1);
  }

  stop(): void {
    for (const watch of [...this.#watches.values()]) this.#stop(watch);
  }
}
