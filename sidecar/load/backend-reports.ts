/**
 * What backends tell about themselves, fetched off the hot path: TEI's /info (its limits) at start
 * and on every reload, and — only when `scrape_backend_metrics` is on — each backend's queue
 * metric from /metrics every `load_signal_interval`, jittered +/-10% so a fleet of sidecars does
 * not scrape in step. A failed read changes nothing: the limits stay as they were, the load
 * reading goes stale and routing falls back to local counts (load-signal.ts).
 *
 * Cost at fleet scale (docs/scale.md): /info is one GET per TEI backend per sidecar per start or
 * reload. The scrape is one GET per backend per interval per sidecar: 1,000 sidecars at 1 s are
 * 1,000 GETs/s on every backend — which is why it is off by default and the free answer headers
 * are the default signal.
 */
import type { HttpClient } from '../backends/http-client.ts';
import { backendHeaders } from '../backends/send-rerank.ts';
import type { Backend } from '../balancer/backend.ts';
import { parseInfo } from '../balancer/reported-limits.ts';
import type { LoadSignalSettings } from '../config/model.ts';
import type { Clock, Random, Timers } from '../../common/clock.ts';
import { metricValue } from './prometheus-text.ts';

const INFO_TIMEOUT_MS = 5000;
const INFO_MAX_BYTES = 64 * 1024;
const METRICS_MAX_BYTES = 1024 * 1024;
const METRICS_TIMEOUT_MAX_MS = 2000;

export interface ReportsDeps {
  readonly client: HttpClient;
  readonly clock: Clock;
  readonly timers: Timers;
  readonly random: Random;
  /** A backend's reported limits changed: the balancer recomputes its per-call limits. */
  readonly limitsChanged: () => void;
}

export class BackendReports {
  readonly #deps: ReportsDeps;
  #backends: readonly Backend[] = [];
  #settings: LoadSignalSettings = { intervalMs: 1000, scrape: false };
  #timer: unknown;
  #stopped = false;

  constructor(deps: ReportsDeps) {
    this.#deps = deps;
  }

  /** The backends in service (start and every reload): read every TEI backend's /info, (re)start the scrape. */
  sync(backends: readonly Backend[], settings: LoadSignalSettings): void {
    this.#backends = backends;
    this.#settings = settings;
    for (const b of backends) if (b.spec.apiFormat === 'tei') void this.readInfo(b);
    this.#deps.timers.clearTimeout(this.#timer);
    this.#timer = undefined;
    if (settings.scrape && !this.#stopped) this.#schedule();
  }

  /** One /info read; the limits apply where the config set none. Never throws. */
  async readInfo(b: Backend): Promise<void> {
    try {
      const answer = await this.#deps.client.request(
        b.target,
        '/info',
        'GET',
        backendHeaders(b.spec.apiKey),
        undefined,
        { timeoutMs: INFO_TIMEOUT_MS, maxBytes: INFO_MAX_BYTES, readBody: true },
      );
      if (answer.status < 200 || answer.status >= 300) return;
      const limits = parseInfo(JSON.parse(answer.body.toString('utf8')), this.#deps.clock.wallNow());
      if (limits === undefined || this.#stopped) return;
      b.setReportedLimits(limits);
      this.#deps.limitsChanged();
    } catch {
      // Not TEI after all, down, or not JSON: the configured (or default) limits stay.
    }
  }

  /** One scrape of every backend that has a queue metric. Never throws. */
  async scrape(): Promise<void> {
    // A reading is good for twice the interval: a scrape that answers within that still helps.
    const timeoutMs = Math.min(2 * this.#settings.intervalMs, METRICS_TIMEOUT_MAX_MS);
    await Promise.all(this.#backends.map((b) => this.#scrapeOne(b, timeoutMs)));
  }

  async #scrapeOne(b: Backend, timeoutMs: number): Promise<void> {
    const metric = b.spec.queueMetric;
    if (metric === undefined) return;
    try {
      const answer = await this.#deps.client.request(
        b.target,
        '/metrics',
        'GET',
        backendHeaders(b.spec.apiKey),
        undefined,
        { timeoutMs, maxBytes: METRICS_MAX_BYTES, readBody: true },
      );
      const value =
        answer.status >= 200 && answer.status < 300 ? metricValue(answer.body.toString('utf8'), metric) : undefined;
      if (value === undefined) b.load.scrapeFailures++;
      else b.load.fromMetrics(value, this.#deps.clock.now(), b.inFlight);
    } catch {
      b.load.scrapeFailures++;
    }
  }

  #schedule(): void {
    const ms = this.#settings.intervalMs * (0.9 + 0.2 * this.#deps.random());
    this.#timer = this.#deps.timers.setTimeout(() => {
      void this.scrape().then(() => {
        if (!this.#stopped && this.#settings.scrape) this.#schedule();
      });
    }, ms);
  }

  stop(): void {
    this.#stopped = true;
    this.#deps.timers.clearTimeout(this.#timer);
  }
}
