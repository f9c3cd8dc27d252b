/**
 * Prometheus metrics on a registry of their own (never prom-client's global one). Counters and
 * histograms are fed by events; per-backend gauges read the backends at scrape time.
 * Labels are bounded: backend names from the config, fixed sets of formats and outcomes.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ClientFormat } from '../api/canonical.ts';
import type { Backend } from '../balancer/backend.ts';
import type { AttemptOutcome, BalancerObserver } from '../balancer/observer.ts';

export type RequestOutcome =
  | 'success'
  | 'fallback'
  | 'client_error'
  | 'cancelled'
  | 'rate_limited'
  | 'unavailable'
  | 'error';
export type ReloadResult = 'success' | 'failure' | 'unchanged';

const PREFIX = 'reranker_lb_';
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const BREAKER_VALUE = { closed: 0, 'half-open': 1, open: 2 } as const;

export interface Metrics extends BalancerObserver {
  readonly registry: Registry;
  request(format: ClientFormat | 'unknown', outcome: RequestOutcome, seconds: number): void;
  reload(result: ReloadResult): void;
  /** Drops every series of backends that left the config (discovered pods come and go). */
  forgetBackends(names: readonly string[]): void;
}

/** Two-level cache of metric children, keyed by label values. */
class PairCache<T> {
  readonly #make: (a: string, b: string) => T;
  readonly #byFirst = new Map<string, Map<string, T>>();

  constructor(make: (a: string, b: string) => T) {
    this.#make = make;
  }

  /** Forgets every child under `a`; returns the second label values it had. */
  drop(a: string): string[] {
    const inner = this.#byFirst.get(a);
    this.#byFirst.delete(a);
    return inner === undefined ? [] : [...inner.keys()];
  }

  get(a: string, b: string): T {
    let inner = this.#byFirst.get(a);
    if (inner === undefined) {
      inner = new Map();
      this.#byFirst.set(a, inner);
    }
    let found = inner.get(b);
    if (found === undefined) {
      found = this.#make(a, b);
      inner.set(b, found);
    }
    return found;
  }
}

/** What the scrape-time gauges read: the backends in service and the config in force. */
export interface MetricsSource {
  backends(): readonly Backend[];
  config(): { readonly hash: string; readonly generation: number };
  /** Log lines dropped so far because stdout could not keep up. */
  logDropped(): number;
}

export function createMetrics(source: MetricsSource, options: { defaultMetrics?: boolean } = {}): Metrics {
  const registry = new Registry();
  if (options.defaultMetrics !== false) {
    // Standard process_* and nodejs_* names, minus prom-client's three gauges named like counters
    // (promtool rejects them; their un-suffixed twins carry the same numbers).
    collectDefaultMetrics({ register: registry });
    for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'])
      registry.removeSingleMetric(name);
  }

  const requests = new Counter({
    name: `${PREFIX}requests_total`,
    help: 'Rerank calls answered, by client format and outcome.',
    labelNames: ['format', 'outcome'] as const,
    registers: [registry],
  });
  const requestSeconds = new Histogram({
    name: `${PREFIX}request_duration_seconds`,
    help: 'Time to answer a rerank call, all attempts included.',
    labelNames: ['format'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  });
  const attempts = new Counter({
    name: `${PREFIX}backend_attempts_total`,
    help: 'Attempts at each backend, by outcome.',
    labelNames: ['backend', 'outcome'] as const,
    registers: [registry],
  });
  const attemptSeconds = new Histogram({
    name: `${PREFIX}backend_attempt_duration_seconds`,
    help: 'Time of one attempt at a backend.',
    labelNames: ['backend'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  });
  const retries = new Counter({
    name: `${PREFIX}retries_total`,
    help: 'Attempts after the first, for any request.',
    registers: [registry],
  });
  const budgetExhausted = new Counter({
    name: `${PREFIX}retry_budget_exhausted_total`,
    help: 'Retries skipped because the retry budget was used up.',
    registers: [registry],
  });
  const fallbacks = new Counter({
    name: `${PREFIX}local_fallbacks_total`,
    help: 'Calls sent to the local backend because no backend could serve.',
    registers: [registry],
  });
  const rateLimited = new Counter({
    name: `${PREFIX}rate_limit_rejections_total`,
    help: 'Calls answered 429 because every backend was at its rpm/tpm limit.',
    registers: [registry],
  });
  const splits = new Counter({
    name: `${PREFIX}split_calls_total`,
    help: 'Calls split into chunks (over a backend limit, or sharded).',
    registers: [registry],
  });
  const chunksSent = new Counter({
    name: `${PREFIX}split_chunks_total`,
    help: 'Chunks of split calls.',
    registers: [registry],
  });
  const hedges = new Counter({
    name: `${PREFIX}hedges_total`,
    help: 'Hedging: hedges sent, skipped for budget, and which attempt answered first.',
    labelNames: ['event'] as const,
    registers: [registry],
  });
  const reloads = new Counter({
    name: `${PREFIX}config_reloads_total`,
    help: 'Config reload attempts, by result.',
    labelNames: ['result'] as const,
    registers: [registry],
  });

  new Gauge({
    name: `${PREFIX}config_info`,
    help: 'The loaded config: its sha256 and generation (value is always 1).',
    labelNames: ['hash', 'generation'] as const,
    registers: [registry],
    collect() {
      this.reset();
      const config = source.config();
      this.set({ hash: config.hash.slice(0, 16), generation: String(config.generation) }, 1);
    },
  });
  new Counter({
    name: `${PREFIX}log_lines_dropped_total`,
    help: 'Log lines dropped because stdout could not keep up (logging never blocks calls).',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(source.logDropped());
    },
  });
  const perBackend = (name: string, help: string, read: (b: Backend, now: number) => number) =>
    new Gauge({
      name: `${PREFIX}${name}`,
      help,
      labelNames: ['backend'] as const,
      registers: [registry],
      collect() {
        this.reset();
        const now = performance.now();
        for (const b of source.backends()) this.set({ backend: b.spec.name }, read(b, now));
      },
    });
  perBackend('backend_in_flight', 'Attempts in flight at each backend.', (b) => b.inFlight);
  perBackend(
    'backend_breaker_state',
    'Circuit breaker state: 0 closed, 1 half-open, 2 open.',
    (b) => BREAKER_VALUE[b.breakerState],
  );
  perBackend('backend_healthy', 'Health: 1 passing (or not checked), 0 failing or not yet checked.', (b) =>
    b.health === 'up' ? 1 : 0,
  );
  perBackend('backend_available', 'Eligible for new calls right now (1) or not (0).', (b, now) =>
    b.isEligible(now, 0) ? 1 : 0,
  );
  perBackend('backend_weight', 'Configured weight.', (b) => b.spec.weight);
  perBackend(
    'backend_outlier_ejected',
    'Passive outlier detection: 1 ejected right now (no new calls), 0 not.',
    (b, now) => (b.outlier.ejectedUntil > now ? 1 : 0),
  );
  perBackend(
    'backend_model_consistent',
    'Model-consistency canary: 1 agrees with the pool majority, 0 inconsistent, -1 not yet known.',
    (b) => (b.consistency === 'consistent' ? 1 : b.consistency === 'inconsistent' ? 0 : -1),
  );

  // Children bound once per label pair: no label objects or key strings built per request.
  const requestChildren = new PairCache((format, outcome) => requests.labels(format, outcome));
  const durationChildren = new PairCache((format) => requestSeconds.labels(format));
  const attemptChildren = new PairCache((backend, outcome) => attempts.labels(backend, outcome));
  const attemptDurationChildren = new PairCache((backend) => attemptSeconds.labels(backend));

  return {
    registry,
    request(format, outcome, seconds) {
      requestChildren.get(format, outcome).inc();
      durationChildren.get(format, '').observe(seconds);
    },
    attempt(backend: string, outcome: AttemptOutcome, seconds: number) {
      attemptChildren.get(backend, outcome).inc();
      attemptDurationChildren.get(backend, '').observe(seconds);
    },
    retry: () => retries.inc(),
    retryBudgetExhausted: () => budgetExhausted.inc(),
    fallback: () => fallbacks.inc(),
    rateLimited: () => rateLimited.inc(),
    split(chunks) {
      splits.inc();
      chunksSent.inc(chunks);
    },
    hedge: (event) => hedges.labels(event).inc(),
    reload: (result) => reloads.labels(result).inc(),
    forgetBackends(names) {
      for (const backend of names) {
        for (const outcome of attemptChildren.drop(backend)) attempts.remove(backend, outcome);
        if (attemptDurationChildren.drop(backend).length > 0) attemptSeconds.remove(backend);
      }
    },
  };
}
