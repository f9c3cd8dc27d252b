/** Local fallback, load balancing switched off, and the seed's example config. */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { post, QUERY, startPool, type Pool } from '../support/harness.ts';

const pools: Pool[] = [];
after(() => Promise.all(pools.map((p) => p.close())));

describe('fallback to local', () => {
  test('when every backend fails, the local backend serves and the answer is marked', async () => {
    const p = await startPool(
      [
        { name: 'a', behaviour: { mode: 'status', status: 500 } },
        { name: 'b', behaviour: { mode: 'reset' } },
      ],
      { fallback_to_local: true, num_retries: 1 },
    );
    pools.push(p);
    const reply = await post(p.url, '/rerank', QUERY);
    assert.equal(reply.status, 200);
    assert.equal(reply.headers.get('x-reranker-lb-fallback'), 'local');
    assert.equal(reply.headers.get('x-reranker-lb-backend'), 'local');
    assert.equal(p.local.stats.requests, 1);
    const log = p.logs.find((l) => l.msg === 'rerank')!;
    assert.equal(log.fallback, true);
  });

  test('the fallback is one attempt, not a new retry cycle', async () => {
    const p = await startPool([{ name: 'a', behaviour: { mode: 'status', status: 500 } }], {
      fallback_to_local: true,
      num_retries: 2,
      allowed_fails: 10,
    });
    pools.push(p);
    p.local.set({ mode: 'status', status: 500 });
    const reply = await post(p.url, '/rerank', QUERY);
    assert.equal(reply.status, 503);
    assert.equal(p.local.stats.requests, 1);
    assert.equal(p.fakes.a!.stats.requests, 3);
  });

  test('with load balancing off, every call goes straight to the local backend, unmarked', async () => {
    const p = await startPool([{ name: 'a' }], {}, { enabled: false });
    pools.push(p);
    const reply = await post(p.url, '/v1/rerank', QUERY);
    assert.equal(reply.status, 200);
    assert.equal(reply.headers.get('x-reranker-lb-backend'), 'local');
    assert.equal(reply.headers.get('x-reranker-lb-fallback'), null);
    assert.equal(p.fakes.a!.stats.requests, 0);
  });
});
