/**
 * Flow control over HTTP through the real sidecar and TEI-like fakes: the limits a TEI backend
 * tells on /info, its load headers, and the queue when it is full (priorities, shedding,
 * timeouts, header validation).
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { eventually, get, poolTracker, post, QUERY, stats } from '../support/harness.ts';

const { pool, closeAll } = poolTracker();
after(closeAll);

const TEI_QUERY = { query: 'capital of France', texts: QUERY.documents };

describe('flow control over HTTP', () => {
  test("a TEI backend's /info limits show in /lb/stats and apply, with nothing configured", async () => {
    const p = await pool(
      [{ name: 'tei', format: 'tei', behaviour: { maxConcurrentRequests: 6, maxClientBatchSize: 4 } }],
      { routing_strategy: 'least-queue' },
    );
    const backend = await eventually(async () => {
      const b = (await stats(p.url)).backends[0];
      return b.reported_limits !== null && b;
    });
    assert.equal(backend.reported_limits.max_client_batch_size, 4);
    assert.equal(backend.reported_limits.max_concurrent_requests, 6);
    assert.deepEqual(backend.reported_limits.applied, { max_documents_per_call: true, max_parallel_requests: true });
    assert.equal(backend.max_documents_per_call, 4);
    assert.equal(backend.max_parallel_requests, 6);
    // 10 documents: split into chunks of at most 4 (the fake answers 422 past 4).
    const documents = Array.from({ length: 10 }, (_d, i) => `document ${i} about Paris`);
    const reply = await post(p.url, '/rerank', { query: 'Paris', documents });
    assert.equal(reply.status, 200, JSON.stringify(reply.body));
    assert.equal(reply.body.results.length, 10);
  });

  test("the backend's answer headers become its load signal in /lb/stats", async () => {
    const p = await pool([{ name: 'tei', format: 'tei', behaviour: { concurrency: 1, latencyMs: 60 } }], {
      routing_strategy: 'least-queue',
    });
    await Promise.all([
      post(p.url, '/rerank', TEI_QUERY),
      post(p.url, '/rerank', TEI_QUERY),
      post(p.url, '/rerank', TEI_QUERY),
    ]);
    const signal = (await stats(p.url)).backends[0].load_signal;
    assert.equal(signal.source, 'headers');
    assert.ok(signal.reported_queue > 0, JSON.stringify(signal));
    assert.equal(signal.stale_after_ms, 2000);
  });

  test("scrape_backend_metrics reads the backend's te_queue_size; a backend without the metric reports nothing", async () => {
    const p = await pool(
      [
        { name: 'tei', format: 'tei', behaviour: { concurrency: 1, latencyMs: 400 } },
        { name: 'plain', params: { queue_metric: 'no_such_metric' } },
      ],
      { routing_strategy: 'least-queue', scrape_backend_metrics: true, load_signal_interval: 0.05 },
    );
    // Three calls straight at the TEI fake (not through the sidecar): one served, two waiting.
    const direct = [0, 1, 2].map(() =>
      fetch(`${p.fakes.tei!.url}/rerank`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(TEI_QUERY),
      }),
    );
    const seen = await eventually(async () => {
      const signal = (await stats(p.url)).backends[0].load_signal;
      return signal.source === 'metrics' && signal.reported_queue === 2 && signal;
    });
    assert.ok(seen.age_ms <= seen.stale_after_ms);
    const plain = (await stats(p.url)).backends[1].load_signal;
    assert.equal(plain.reported_queue, null);
    assert.ok(plain.scrape_failures > 0);
    await Promise.all(direct);
  });

  test('every backend full: higher priority is served first, sheddable is refused at once, waiting ends in 429 + Retry-After', async () => {
    const p = await pool([{ name: 'one', behaviour: { latencyMs: 300 }, entry: { max_parallel_requests: 1 } }], {
      queue_timeout: 5,
      fallback_to_local: false,
    });
    const done: string[] = [];
    const call = (id: string, headers: Record<string, string>) =>
      post(p.url, '/rerank', QUERY, headers).then((r) => {
        done.push(id);
        return r;
      });
    const first = call('first', {});
    await eventually(async () => (await stats(p.url)).backends[0].in_flight === 1);
    const low = call('low', {});
    await eventually(async () => (await stats(p.url)).flow_control.waiting === 1);
    const high = call('high', { 'x-reranker-priority': '5' });
    await eventually(async () => (await stats(p.url)).flow_control.waiting === 2);
    const shed = await post(p.url, '/rerank', QUERY, { 'x-reranker-priority': '-1' });
    assert.equal(shed.status, 429);
    assert.ok(Number(shed.headers.get('retry-after')) >= 1);
    assert.match(shed.body.error.message, /sheddable/);
    for (const r of await Promise.all([first, low, high])) assert.equal(r.status, 200);
    assert.deepEqual(done, ['first', 'high', 'low']);
    const metrics = await (await fetch(`${p.url}/metrics`)).text();
    assert.match(metrics, /reranker_lb_queue_outcomes_total\{priority="sheddable",outcome="shed"\} 1/);
    assert.match(metrics, /reranker_lb_queue_outcomes_total\{priority="high",outcome="admitted"\} 1/);
  });

  test('a wait longer than queue_timeout ends in 429 with Retry-After; the queue holds queue_max_length', async () => {
    const p = await pool([{ name: 'one', behaviour: { latencyMs: 1500 }, entry: { max_parallel_requests: 1 } }], {
      queue_timeout: 0.2,
      queue_max_length: 1,
      fallback_to_local: false,
    });
    const first = post(p.url, '/rerank', QUERY);
    await eventually(async () => (await stats(p.url)).backends[0].in_flight === 1);
    const waiting = post(p.url, '/rerank', QUERY);
    await eventually(async () => (await stats(p.url)).flow_control.waiting === 1);
    const full = await post(p.url, '/rerank', QUERY);
    assert.equal(full.status, 429);
    assert.match(full.body.error.message, /queue is full/);
    const timedOut = await waiting;
    assert.equal(timedOut.status, 429);
    assert.ok(timedOut.headers.get('retry-after') !== null);
    assert.match(timedOut.body.error.message, /queue_timeout/);
    assert.equal((await first).status, 200);
    const flow = (await stats(p.url)).flow_control;
    assert.equal(flow.outcomes.timeout, 1);
    assert.equal(flow.outcomes.full, 1);
  });

  test('a bad priority or tenant header is a 400 naming the header', async () => {
    const p = await pool([{ name: 'a' }]);
    const priority = await post(p.url, '/rerank', QUERY, { 'x-reranker-priority': 'urgent' });
    assert.equal(priority.status, 400);
    assert.equal(priority.body.error.field, 'x-reranker-priority');
    const tenant = await post(p.url, '/rerank', QUERY, { 'x-reranker-tenant': 'a b' });
    assert.equal(tenant.status, 400);
    assert.equal(tenant.body.error.field, 'x-reranker-tenant');
    assert.equal(
      (await post(p.url, '/rerank', QUERY, { 'x-reranker-priority': '3', 'x-reranker-tenant': 'search' })).status,
      200,
    );
    assert.equal((await get(p.url, '/lb/stats')).body.flow_control.tenants_in_flight, 0);
  });
});
