/** The fake behaves like TEI under load: a concurrency limit with a real queue, and what TEI tells about it. */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { startFakeReranker, type Behaviour, type FakeReranker } from './fake-reranker.ts';

const started: FakeReranker[] = [];
after(() => Promise.all(started.map((f) => f.close())));

async function tei(behaviour: Partial<Behaviour>): Promise<FakeReranker> {
  const f = await startFakeReranker({ format: 'tei', behaviour });
  started.push(f);
  return f;
}

function rerank(f: FakeReranker, texts = ['a', 'b']): Promise<Response> {
  return fetch(`${f.url}/rerank`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query: 'q', texts }),
  });
}

test('serves `concurrency` calls at once; the rest queue and say how long they waited', async () => {
  const f = await tei({ concurrency: 2, latencyMs: 150 });
  const calls = [rerank(f), rerank(f), rerank(f), rerank(f)];
  await new Promise((r) => setTimeout(r, 60));
  const metrics = await (await fetch(`${f.url}/metrics`)).text();
  assert.match(metrics, /^te_queue_size 2$/m);
  const answers = await Promise.all(calls);
  const queued = answers.map((a) => Number(a.headers.get('x-queue-time'))).sort((x, y) => x - y);
  assert.ok(queued[0]! < 50 && queued[1]! < 50, `first two served at once: ${queued.join(', ')}`);
  assert.ok(queued[2]! >= 100 && queued[3]! >= 100, `the other two waited about one call: ${queued.join(', ')}`);
  for (const a of answers) assert.ok(Number(a.headers.get('x-inference-time')) >= 140);
  const stats = (await (await fetch(`${f.url}/__stats`)).json()) as { maxRunning: number };
  assert.equal(stats.maxRunning, 2);
});

test('past max_concurrent_requests held at once: 429 with no Retry-After, as TEI answers', async () => {
  const f = await tei({ concurrency: 1, maxConcurrentRequests: 2, latencyMs: 100 });
  const answers = await Promise.all([rerank(f), rerank(f), rerank(f)]);
  const statuses = answers.map((a) => a.status).sort();
  assert.deepEqual(statuses, [200, 200, 429]);
  const refused = answers.find((a) => a.status === 429)!;
  assert.equal(refused.headers.get('retry-after'), null);
});

test('/info tells the limits; more texts than max_client_batch_size is a 422', async () => {
  const f = await tei({ maxConcurrentRequests: 7, maxClientBatchSize: 3 });
  const info = (await (await fetch(`${f.url}/info`)).json()) as Record<string, unknown>;
  assert.equal(info.max_concurrent_requests, 7);
  assert.equal(info.max_client_batch_size, 3);
  assert.equal((await rerank(f, ['a', 'b', 'c', 'd'])).status, 422);
  assert.equal((await rerank(f, ['a', 'b', 'c'])).status, 200);
});
