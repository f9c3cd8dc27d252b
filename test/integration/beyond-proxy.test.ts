/**
 * Splitting calls to the backends' limits, hedged attempts and the model-consistency canary,
 * against real fake rerankers over loopback.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { bm25Scores } from '../fake-reranker/bm25.ts';
import { eventually, get, post, poolTracker, stats } from '../support/harness.ts';

const { pool, closeAll } = poolTracker();
after(closeAll);

const WORDS = ['paris', 'france', 'capital', 'berlin', 'tower', 'river', 'museum', 'wine', 'train', 'city'];
/** Documents with varied BM25 scores for "capital of france". */
function documents(n: number): string[] {
  return Array.from({ length: n }, (_d, i) =>
    `doc ${i} ${WORDS[i % 10]} ${WORDS[(i * 7) % 10]} ${WORDS[(i * 3) % 10]} ${i % 13 === 0 ? 'capital france' : ''}`.trim(),
  );
}

/** The ranking one backend would give the whole call. */
function expectedTop(query: string, docs: string[], n: number): number[] {
  return bm25Scores(query, docs)
    .map((score, index) => ({ index, score }))
    .sort((a, b) => b.score - a.score || a.index - b.index)
    .slice(0, n)
    .map((r) => r.index);
}

describe('split calls', () => {
  test('100 documents to TEI backends (32 per call by default): chunks in parallel, merged as one answer', async () => {
    const p = await pool(
      [
        { name: 'tei-a', format: 'tei' },
        { name: 'tei-b', format: 'tei' },
        { name: 'tei-c', format: 'tei' },
      ],
      { routing_strategy: 'round-robin', fallback_to_local: false },
    );
    const docs = documents(100);
    const reply = await post(p.url, '/v1/rerank', {
      query: 'capital of france',
      documents: docs,
      top_n: 10,
      return_documents: true,
    });
    assert.equal(reply.status, 200, JSON.stringify(reply.body));
    // Scores differ per chunk (BM25's statistics are per call), so compare the set, not the order.
    const got = reply.body.results.map((r: any) => r.index);
    assert.equal(got.length, 10);
    for (const r of reply.body.results)
      assert.equal(r.document.text, docs[r.index], 'return_documents: the caller’s document at the caller’s index');
    const served = Object.values(p.fakes).reduce((n, f) => n + f.stats.requests, 0);
    assert.equal(served, 4, '100 documents in 4 chunks of 25');
    for (const f of Object.values(p.fakes)) assert.ok(((f.stats.lastBody as any)?.texts?.length ?? 0) <= 32);
    const log = p.logs.find((l) => l.msg === 'rerank')!;
    assert.deepEqual(
      (log.chunks as any[]).map((c) => c.documents),
      [
        [0, 25],
        [25, 50],
        [50, 75],
        [75, 100],
      ],
    );
    assert.equal(reply.body.usage.total_tokens > 0, true);
    assert.match(reply.headers.get('x-reranker-lb-backend')!, /tei-/);
  });

  test('within the limits nothing is split, and max_documents_per_call is honoured from litellm_params', async () => {
    const p = await pool([{ name: 'a', params: { max_documents_per_call: 5 } }], { fallback_to_local: false });
    const docs = documents(5);
    assert.equal((await post(p.url, '/rerank', { query: 'capital of france', documents: docs })).status, 200);
    assert.equal(p.fakes.a!.stats.requests, 1);
    const reply = await post(p.url, '/rerank', { query: 'capital of france', documents: documents(12), top_n: 3 });
    assert.equal(reply.status, 200);
    assert.equal(p.fakes.a!.stats.requests, 4, '12 documents in 3 chunks of 4');
    assert.equal(reply.body.results.length, 3);
  });

  test('shard_min_documents: one backend’s ranking of the whole call, from three backends', async () => {
    const p = await pool([{ name: 'a' }, { name: 'b' }, { name: 'c' }], {
      shard_min_documents: 30,
      routing_strategy: 'least-busy',
      fallback_to_local: false,
    });
    const docs = documents(60);
    const reply = await post(p.url, '/rerank', { query: 'capital of france', documents: docs, top_n: 60 });
    assert.equal(reply.status, 200);
    assert.deepEqual(
      Object.values(p.fakes).map((f) => f.stats.requests),
      [1, 1, 1],
    );
    assert.equal(new Set(reply.body.results.map((r: any) => r.index)).size, 60, 'every caller index once');
    // BM25's statistics are per call, so scores differ by chunk; the best documents are the same.
    const top = reply.body.results
      .slice(0, 5)
      .map((r: any) => r.index)
      .sort((x: number, y: number) => x - y);
    assert.deepEqual(
      top,
      expectedTop('capital of france', docs, 5).sort((x, y) => x - y),
    );
  });

  test('a chunk that fails over keeps the call whole; the log names the backend of each chunk', async () => {
    const p = await pool(
      [
        { name: 'bad', entry: { priority: 0, max_documents_per_call: 10 }, behaviour: { mode: 'status', status: 500 } },
        { name: 'good', entry: { priority: 1, max_documents_per_call: 10 } },
      ],
      { routing_strategy: 'priority-failover', fallback_to_local: false, retry_budget_min: 100 },
    );
    const reply = await post(p.url, '/rerank', { query: 'capital of france', documents: documents(20) });
    assert.equal(reply.status, 200);
    const log = p.logs.find((l) => l.msg === 'rerank')!;
    assert.deepEqual(
      (log.chunks as any[]).map((c) => c.backend),
      ['good', 'good'],
    );
  });
});

describe('hedged attempts', () => {
  test('a slow backend is hedged after hedge_after; the hedge answers, the slow attempt is cancelled cleanly', async () => {
    const p = await pool(
      [
        { name: 'slow', entry: { priority: 0 }, behaviour: { mode: 'hang' } },
        { name: 'fast', entry: { priority: 1 } },
      ],
      {
        routing_strategy: 'priority-failover',
        hedging: true,
        hedge_after: 0.1,
        hedge_budget_percent: 100,
        fallback_to_local: false,
      },
    );
    const started = performance.now();
    const reply = await post(p.url, '/rerank', { query: 'capital of france', documents: documents(3) });
    assert.equal(reply.status, 200);
    assert.equal(reply.headers.get('x-reranker-lb-backend'), 'fast');
    assert.ok(performance.now() - started < 2000);
    await eventually(
      () => p.fakes.slow!.stats.openResponses === 0,
      5000,
      'the cancelled attempt’s connection to close',
    );
    const log = p.logs.find((l) => l.msg === 'rerank')!;
    assert.deepEqual(
      (log.attempts as any[]).map((a) => [a.backend, a.outcome, a.role ?? null]),
      [
        ['fast', 200, 'hedge'],
        ['slow', 'cancelled', null],
      ],
    );
    assert.equal(log.backend, 'fast', 'the log names the backend that answered, not the attempt that lost');
    const metrics = await (await fetch(`${p.url}/metrics`)).text();
    assert.match(metrics, /reranker_lb_hedges_total\{event="hedge_won"\} 1/);
    const slow = (await stats(p.url)).backends.find((b: any) => b.name === 'slow');
    assert.equal(slow.failures, 0, 'a lost hedge is not a backend failure');
  });

  test('off by default', async () => {
    const p = await pool(
      [
        { name: 'slow', entry: { priority: 0 }, behaviour: { latencyMs: 300 } },
        { name: 'fast', entry: { priority: 1 } },
      ],
      { routing_strategy: 'priority-failover', hedge_after: 0.05 },
    );
    const reply = await post(p.url, '/rerank', { query: 'capital of france', documents: documents(3) });
    assert.equal(reply.headers.get('x-reranker-lb-backend'), 'slow');
    assert.equal(p.fakes.fast!.stats.requests, 0);
  });
});

describe('model-consistency canary', () => {
  test('a backend serving another model is marked inconsistent in /lb/stats and the metric, and ejected', async () => {
    const p = await pool([{ name: 'a' }, { name: 'b' }, { name: 'odd', behaviour: { scoring: 'reversed' } }], {
      canary: { interval: 0.2, action: 'eject' },
      fallback_to_local: false,
    });
    await eventually(async () => {
      const odd = (await stats(p.url)).backends.find((b: any) => b.name === 'odd');
      assert.equal(odd.consistency, 'inconsistent');
      assert.equal(odd.available, false);
      assert.equal(odd.canary.ejected, true);
      return true;
    });
    const body = (await stats(p.url)).backends;
    assert.deepEqual(
      body.map((b: any) => b.consistency),
      ['consistent', 'consistent', 'inconsistent'],
    );
    const metrics = await (await fetch(`${p.url}/metrics`)).text();
    assert.match(metrics, /reranker_lb_backend_model_consistent\{backend="odd"\} 0/);
    assert.match(metrics, /reranker_lb_backend_model_consistent\{backend="a"\} 1/);
    assert.deepEqual(
      (await get(p.url, '/lb/config')).body.inconsistent_backends,
      ['odd'],
      'what the operator collects into the RerankerPool status',
    );
    const before = p.fakes.odd!.stats.requests;
    for (let i = 0; i < 6; i++)
      assert.equal((await post(p.url, '/rerank', { query: 'capital of france', documents: documents(3) })).status, 200);
    // The odd backend still gets canary calls, but no traffic.
    assert.ok(p.fakes.odd!.stats.requests - before <= 2, 'only canary calls reach the ejected backend');
    p.fakes.odd!.set({ scoring: 'bm25' });
    await eventually(async () => (await stats(p.url)).backends.find((b: any) => b.name === 'odd').available === true);
    const log = p.logs.find((l) => l.msg === 'canary: backend inconsistent');
    assert.ok(log !== undefined);
  });

  test('flag only: shown, still served', async () => {
    const p = await pool([{ name: 'a' }, { name: 'b' }, { name: 'odd', behaviour: { scoring: 'reversed' } }], {
      canary: { interval: 0.2 },
    });
    await eventually(
      async () => (await stats(p.url)).backends.find((b: any) => b.name === 'odd').consistency === 'inconsistent',
    );
    assert.equal((await get(p.url, '/lb/stats')).body.backends.find((b: any) => b.name === 'odd').available, true);
  });
});
