/** Each routing strategy, observed over HTTP through the real sidecar. */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { countOf, eventually, post, QUERY, servedBy, poolTracker } from '../support/harness.ts';
import { seededRandom } from '../../common/clock.ts';

const { pool, closeAll } = poolTracker();
after(closeAll);

describe('routing strategies over HTTP', () => {
  test('weighted-random follows the weights', async () => {
    const p = await pool(
      [
        { name: 'a', entry: { weight: 3 } },
        { name: 'b', entry: { weight: 1 } },
      ],
      { routing_strategy: 'weighted-random' },
    );
    const counts = countOf(await servedBy(p.url, 400));
    assert.ok(counts.a! > 250 && counts.a! < 350, JSON.stringify(counts));
  });

  test('round-robin with weights 2:1 serves a, b, a, a, b, a', async () => {
    const p = await pool(
      [
        { name: 'a', entry: { weight: 2 } },
        { name: 'b', entry: { weight: 1 } },
      ],
      { routing_strategy: 'round-robin' },
    );
    assert.deepEqual(await servedBy(p.url, 6), ['a', 'b', 'a', 'a', 'b', 'a']);
  });

  test('least-busy sends calls to the backend with fewer calls in flight', async () => {
    const p = await pool([{ name: 'slow', behaviour: { mode: 'hang' } }, { name: 'quick' }], {
      routing_strategy: 'least-busy',
      default_timeout: 60,
    });
    // Each call goes out once the previous one has landed: answered by "quick", or held by "slow",
    // which keeps every call it gets. Both idle: a tie, at random; once "slow" holds one, it is the
    // busier one and gets no more.
    const held: Promise<unknown>[] = [];
    let quick = 0;
    for (let i = 0; i < 20; i++) {
      const before = p.fakes.slow!.stats.requests;
      let answered = false;
      const call = post(p.url, '/rerank', QUERY).then(() => (answered = true));
      const landed = await eventually(
        () => (answered ? 'quick' : p.fakes.slow!.stats.requests > before && 'slow'),
        10_000,
        'the call to land',
      );
      if (landed === 'quick') quick++;
      else held.push(call.catch(() => undefined));
    }
    assert.ok(p.fakes.slow!.stats.requests <= 1 && quick >= 19, `slow ${p.fakes.slow!.stats.requests}, quick ${quick}`);
    await p.fakes.slow!.close(); // lets the held call go (it fails over to "quick")
    await Promise.all(held);
  });

  test('latency-based-routing moves traffic off a slow backend', async () => {
    // The sidecar's clock moves only by the latency the fakes spend, so the latencies it measures
    // are exactly 2 and 60 ms, whatever else a loaded machine adds; the random source is seeded.
    let simulated = 0;
    const clock = { now: () => simulated, wallNow: () => Date.now() };
    const spend = async (ms: number) => {
      simulated += ms;
    };
    const p = await pool(
      [
        { name: 'fast1', behaviour: { latencyMs: 2 } },
        { name: 'fast2', behaviour: { latencyMs: 2 } },
        { name: 'slow', behaviour: { latencyMs: 60 } },
      ],
      { routing_strategy: 'latency-based-routing' },
      { clock, spend, random: seededRandom(7) },
    );
    await servedBy(p.url, 15); // warm-up: every backend gets measured
    const counts = countOf(await servedBy(p.url, 60));
    assert.ok((counts.slow ?? 0) <= 3, JSON.stringify(counts));
    assert.ok(counts.fast1! > 10 && counts.fast2! > 10, `no herding: ${JSON.stringify(counts)}`);
  });

  test('priority-failover uses priority 0 while it works, then priority 1', async () => {
    const p = await pool(
      [
        { name: 'primary', entry: { priority: 0 } },
        { name: 'backup', entry: { priority: 1 } },
      ],
      { routing_strategy: 'priority-failover', allowed_fails: 0, cooldown_time: 30 },
    );
    assert.deepEqual(countOf(await servedBy(p.url, 20)), { primary: 20 });
    p.fakes.primary!.set({ mode: 'status', status: 500 });
    assert.deepEqual(countOf(await servedBy(p.url, 10)), { backup: 10 });
    assert.equal(p.fakes.primary!.stats.requests, 21, 'one failure opened the breaker; no more traffic to primary');
  });

  test('simple-shuffle ignores weights', async () => {
    const p = await pool(
      [
        { name: 'a', entry: { weight: 10 } },
        { name: 'b', entry: { weight: 1 } },
      ],
      { routing_strategy: 'simple-shuffle' },
    );
    const counts = countOf(await servedBy(p.url, 300));
    assert.ok(counts.b! > 100, JSON.stringify(counts));
  });

  test('usage-based-routing prefers the backend with most tpm headroom', async () => {
    const p = await pool(
      [
        { name: 'small', entry: { tpm: 200 } },
        { name: 'large', entry: { tpm: 100_000 } },
      ],
      { routing_strategy: 'usage-based-routing' },
    );
    const counts = countOf(await servedBy(p.url, 20));
    assert.ok(counts.large! >= 18, JSON.stringify(counts));
  });

  test('cost-based-routing prefers the cheapest backend', async () => {
    const p = await pool([{ name: 'hosted', params: { input_cost_per_token: 0.000002 } }, { name: 'own' }], {
      routing_strategy: 'cost-based-routing',
    });
    assert.deepEqual(countOf(await servedBy(p.url, 10)), { own: 10 });
  });
});
