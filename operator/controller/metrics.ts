/** The operator's own Prometheus registry. */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { RequestObserver } from '../../kube/api.ts';
import type { QueueObserver } from './work-queue.ts';

export interface OperatorMetrics {
  readonly registry: Registry;
  readonly reconciles: Counter<'result'>;
  readonly reconcileSeconds: Histogram;
  readonly watchRestarts: Counter<'resource'>;
  readonly leader: Gauge;
  readonly workers: Gauge;
  readonly queueLatency: Histogram;
  readonly queueWorkSeconds: Histogram;
  readonly queueRetries: Counter;
  readonly apiRequests: Counter<'verb' | 'resource' | 'code'>;
  readonly apiRequestSeconds: Histogram<'verb' | 'resource'>;
}

/** Seconds, from a worker waiting (0) to a minute of backlog. */
const QUEUE_BUCKETS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
/** Seconds, up to the client's 30 s request timeout. */
const API_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export function createOperatorMetrics(
  queueDepth: () => number,
  synced: () => Record<string, boolean>,
  events: () => { writes: number; dropped: number } = () => ({ writes: 0, dropped: 0 }),
): OperatorMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'])
    registry.removeSingleMetric(name);
  const p = 'reranker_operator_';
  new Gauge({
    name: `${p}queue_depth`,
    help: 'Pool keys waiting to be reconciled.',
    registers: [registry],
    collect() {
      this.set(queueDepth());
    },
  });
  new Gauge({
    name: `${p}informer_synced`,
    help: 'Whether each informer has finished its first list (1) or not (0).',
    labelNames: ['resource'] as const,
    registers: [registry],
    collect() {
      for (const [resource, ok] of Object.entries(synced())) this.set({ resource }, ok ? 1 : 0);
    },
  });
  new Gauge({
    name: `${p}event_writes`,
    help: 'Kubernetes Event creates and patches sent (one series per pool and reason), and series dropped because the queue was full.',
    labelNames: ['outcome'] as const,
    registers: [registry],
    collect() {
      const e = events();
      this.set({ outcome: 'sent' }, e.writes);
      this.set({ outcome: 'dropped' }, e.dropped);
    },
  });
  return {
    registry,
    reconciles: new Counter({
      name: `${p}reconciles_total`,
      help: 'Reconciles, by result (success, error).',
      labelNames: ['result'] as const,
      registers: [registry],
    }),
    reconcileSeconds: new Histogram({
      name: `${p}reconcile_duration_seconds`,
      help: 'Time of one reconcile.',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    watchRestarts: new Counter({
      name: `${p}watch_restarts_total`,
      help: 'Watch restarts after an error, by resource.',
      labelNames: ['resource'] as const,
      registers: [registry],
    }),
    leader: new Gauge({
      name: `${p}leader`,
      help: 'This replica holds the leader lease (1) or not (0).',
      registers: [registry],
    }),
    workers: new Gauge({
      name: `${p}workers`,
      help: "Reconcile workers running (the leader's; 0 on a standby).",
      registers: [registry],
    }),
    queueLatency: new Histogram({
      name: `${p}queue_latency_seconds`,
      help: 'Time a pool key waits in the work queue before a worker takes it.',
      buckets: QUEUE_BUCKETS,
      registers: [registry],
    }),
    queueWorkSeconds: new Histogram({
      name: `${p}queue_work_duration_seconds`,
      help: 'Time a worker holds a pool key, from taking it to done.',
      buckets: QUEUE_BUCKETS,
      registers: [registry],
    }),
    queueRetries: new Counter({
      name: `${p}queue_retries_total`,
      help: 'Pool keys queued again with backoff after a failed reconcile.',
      registers: [registry],
    }),
    apiRequests: new Counter({
      name: `${p}api_requests_total`,
      help: 'Kubernetes API requests the operator made, by verb, resource (plural) and HTTP status code ("error": no response). A watch counts once, when it starts.',
      labelNames: ['verb', 'resource', 'code'] as const,
      registers: [registry],
    }),
    apiRequestSeconds: new Histogram({
      name: `${p}api_request_duration_seconds`,
      help: 'Time of Kubernetes API requests to their whole response, by verb and resource (watches excluded).',
      labelNames: ['verb', 'resource'] as const,
      buckets: API_BUCKETS,
      registers: [registry],
    }),
  };
}

/** Counts the operator's Kubernetes API requests (give it to KubeApi). */
export function apiRequestObserver(
  metrics: Pick<OperatorMetrics, 'apiRequests' | 'apiRequestSeconds'>,
): RequestObserver {
  return {
    onRequest({ verb, resource, code, seconds }) {
      metrics.apiRequests.labels(verb, resource, code).inc();
      if (seconds !== undefined) metrics.apiRequestSeconds.labels(verb, resource).observe(seconds);
    },
  };
}

/** Feeds the work queue's timings and retries to the metrics (undefined: not yet created). */
export function queueObserver(
  metrics: () => Pick<OperatorMetrics, 'queueLatency' | 'queueWorkSeconds' | 'queueRetries'> | undefined,
): QueueObserver {
  return {
    waited: (seconds) => metrics()?.queueLatency.observe(seconds),
    worked: (seconds) => metrics()?.queueWorkSeconds.observe(seconds),
    retried: () => metrics()?.queueRetries.inc(),
  };
}
