/** The operator's /metrics text after API requests and queue activity reach the observers. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { apiRequestObserver, createOperatorMetrics, queueObserver } from './metrics.ts';

test('API requests are counted by verb, resource and code, timed except watches; queue waits, work and retries are recorded', async () => {
  const metrics = createOperatorMetrics(
    () => 0,
    () => ({}),
  );
  const api = apiRequestObserver(metrics);
  api.onRequest({ verb: 'apply', resource: 'configmaps', code: '200', seconds: 0.02 });
  api.onRequest({ verb: 'apply', resource: 'configmaps', code: '200', seconds: 0.03 });
  api.onRequest({ verb: 'apply', resource: 'rerankerpools', code: '409', seconds: 0.01 });
  api.onRequest({ verb: 'watch', resource: 'pods', code: '200', seconds: undefined });
  api.onRequest({ verb: 'create', resource: 'events', code: 'error', seconds: 30 });
  const queue = queueObserver(() => metrics);
  queue.waited(0);
  queue.waited(2);
  queue.worked(0.5);
  queue.retried();
  const text = await metrics.registry.metrics();
  for (const line of [
    'reranker_operator_api_requests_total{verb="apply",resource="configmaps",code="200"} 2',
    'reranker_operator_api_requests_total{verb="apply",resource="rerankerpools",code="409"} 1',
    'reranker_operator_api_requests_total{verb="watch",resource="pods",code="200"} 1',
    'reranker_operator_api_requests_total{verb="create",resource="events",code="error"} 1',
    'reranker_operator_api_request_duration_seconds_count{verb="apply",resource="configmaps"} 2',
    'reranker_operator_api_request_duration_seconds_sum{verb="apply",resource="configmaps"} 0.05',
    'reranker_operator_queue_latency_seconds_count 2',
    'reranker_operator_queue_latency_seconds_sum 2',
    'reranker_operator_queue_work_duration_seconds_count 1',
    'reranker_operator_queue_retries_total 1',
  ]) {
    assert.ok(text.includes(`\n${line}\n`), `missing: ${line}`);
  }
  assert.doesNotMatch(
    text,
    /api_request_duration_seconds_count\{verb="watch"/,
    'a watch stream has no request duration',
  );
});
