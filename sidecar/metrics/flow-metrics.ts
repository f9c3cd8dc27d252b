/**
 * Flow-control metrics: the queue by priority bucket (high, default, sheddable: bounded labels,
 * whatever priorities callers send), how waits ended, and each backend's own load report.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { Backend } from '../balancer/backend.ts';
import {
  bucketOf,
  type FlowControl,
  type FlowObserver,
  type PriorityBucket,
  type WaitOutcome,
} from '../balancer/flow-control.ts';

const PREFIX = 'reranker_lb_';
const WAIT_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const BUCKETS: readonly PriorityBucket[] = ['high', 'default', 'sheddable'];

export interface FlowSource {
  flow(): FlowControl;
  backends(): readonly Backend[];
}

export function registerFlowMetrics(registry: Registry, source: FlowSource): FlowObserver {
  new Gauge({
    name: `${PREFIX}queue_waiting`,
    help: 'Calls waiting for a backend with room, by priority bucket (high > 0, default 0, sheddable < 0).',
    labelNames: ['priority'] as const,
    registers: [registry],
    collect() {
      const counts: Record<PriorityBucket, number> = { high: 0, default: 0, sheddable: 0 };
      for (const level of source.flow().toJSON().waiting_by_priority as { priority: number; waiting: number }[])
        counts[bucketOf(level.priority)] += level.waiting;
      for (const bucket of BUCKETS) this.set({ priority: bucket }, counts[bucket]);
    },
  });
  const waited = new Histogram({
    name: `${PREFIX}queue_wait_seconds`,
    help: 'Time calls spent in the queue, by priority bucket and how the wait ended.',
    labelNames: ['priority', 'outcome'] as const,
    buckets: WAIT_BUCKETS,
    registers: [registry],
  });
  const ended = new Counter({
    name: `${PREFIX}queue_outcomes_total`,
    help: 'Calls that met a full fleet: admitted after waiting, or refused with 429 (shed: sheddable; timeout: queue_timeout passed; full/displaced: queue_max_length), by priority bucket.',
    labelNames: ['priority', 'outcome'] as const,
    registers: [registry],
  });
  new Gauge({
    name: `${PREFIX}backend_reported_queue`,
    help: 'Calls waiting at each backend as the backend reports them (answer headers or /metrics); absent while the report is stale.',
    labelNames: ['backend', 'source'] as const,
    registers: [registry],
    collect() {
      this.reset();
      const now = performance.now();
      for (const b of source.backends()) {
        const reading = b.load.reading(now);
        if (reading !== undefined) this.set({ backend: b.spec.name, source: reading.source }, reading.queue);
      }
    },
  });
  return {
    waited(bucket: PriorityBucket, outcome: WaitOutcome, seconds: number) {
      ended.labels(bucket, outcome).inc();
      if (outcome !== 'shed' && outcome !== 'full') waited.labels(bucket, outcome).observe(seconds);
    },
  };
}
