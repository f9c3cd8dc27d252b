/** The operator's own Prometheus registry. */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface OperatorMetrics {
  readonly registry: Registry;
  readonly reconciles: Counter<'result'>;
  readonly reconcileSeconds: Histogram;
  readonly watchRestarts: Counter<'resource'>;
  readonly leader: Gauge;
}

export function createOperatorMetrics(queueDepth: () => number, synced: () => Record<string, boolean>, events: () => { writes: number; dropped: number } = () => ({ writes: 0, dropped: 0 })): OperatorMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) registry.removeSingleMetric(name);
  const p = 'reranker_operator_';
  new Gauge({ name: `${p}queue_depth`, help: 'Pool keys waiting to be reconciled.', registers: [registry], collect() { this.set(queueDepth()); } });
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
    reconciles: new Counter({ name: `${p}reconciles_total`, help: 'Reconciles, by result (success, error).', labelNames: ['result'] as const, registers: [registry] }),
    reconcileSeconds: new Histogram({ name: `${p}reconcile_duration_seconds`, help: 'Time of one reconcile.', buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5], registers: [registry] }),
    watchRestarts: new Counter({ name: `${p}watch_restarts_total`, help: 'Watch restarts after an error, by resource.', labelNames: ['resource'] as const, registers: [registry] }),
    leader: new Gauge({ name: `${p}leader`, help: 'This replica holds the leader lease (1) or not (0).', registers: [registry] }),
  };
}
