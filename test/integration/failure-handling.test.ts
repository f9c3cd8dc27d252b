/** Failover, parking, client errors, timeouts, breakers, health checks, malformed answers. */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { countOf, eventually, post, QUERY, servedBy, poolTracker, stats } from '../support/harness.ts';
import { skipClock } from '../support/skip-clock.ts';

const { pool, closeAll } = poolTracker();
after(closeAll);

function backendStats(body: any, name: string): any {
  return body.backends.find((b: any) => b.name === name);
}

describe('failure handling', () => {
  test('a failing backend fails over to a second one and the client sees success', async () => {
    const p = await pool(
      [
        { name: 'bad', entry: { priority: 0 }, behaviour: { mode: 'status', status: 502 } },
        { name: 'good', entry: { priority: 1 } },
      ],
      {
        routing_strategy: 'priority-failover',
        fallback_to_local: false,
      },
    );
    const reply = await post(p.url, '/rerank', QUERY);
    assert.equal(reply.status, 200);
    assert.equal(reply.headers.get('x-reranker-lb-backend'), 'good');
    assert.equal(reply.body.results[0].index, 0);
    assert.equal(p.fakes.bad!.stats.requests, 1);
    const log = p.logs.find((l) => l.msg === 'rerank')!;
    assert.deepEqual(
      (log.attempts as any[]).map((a) => [a.backend, a.outcome]),
      [
        ['bad', 502],
        ['good', 200],
      ],
    );
  });

  test('a network failure (connection reset) fails over too', async () => {
    const p = await pool(
      [
        { name: 'reset', entry: { priority: 0 }, behaviour: { mode: 'reset' } },
        { name: 'good', entry: { priority: 1 } },
      ],
      { routing_strategy: 'priority-failover', fallback_to_local: false },
    );
    const reply = await post(p.url, '/rerank', QUERY);
    assert.equal(reply.status, 200);
    assert.equal(reply.headers.get('x-reranker-lb-backend'), 'good');
  });

  test('503 + Retry-After parks the backend for that long, without a breaker strike', async () => {
    const clock = skipClock();
    const p = await pool(
      [
        { name: 'busy', entry: { priority: 0 }, behaviour: { mode: 'status', status: 503, retryAfter: '60' } },
        { name: 'other', entry: { priority: 1 } },
      ],
      { routing_strategy: 'priority-failover', allowed_fails: 0 },
      { clock },
    );
    assert.equal((await post(p.url, '/rerank', QUERY)).status, 200);
    p.fakes.busy!.set({ mode: 'ok' });
    assert.deepEqual(
      countOf(await servedBy(p.url, 5)),
      { other: 5 },
      'parked: no traffic inside the Retry-After window',
    );
    const s = backendStats(await stats(p.url), 'busy');
    assert.equal(s.breaker_state, 'closed');
    assert.ok(s.parked_for_ms > 0 && s.parked_for_ms <= 60_000, JSON.stringify(s));
    clock.skip(60_000);
    assert.deepEqual(await servedBy(p.url, 1), ['busy'], 'the park has ended');
  });

  test('client errors are neither retried nor counted against the backend', async () => {
    const p = await pool(
      [
        { name: 'picky', entry: { priority: 0 }, behaviour: { mode: 'status', status: 422 } },
        { name: 'other', entry: { priority: 1 } },
      ],
      {
        routing_strategy: 'priority-failover',
        allowed_fails: 0,
      },
    );
    for (let i = 0; i < 3; i++) {
      const reply = await post(p.url, '/rerank', QUERY);
      assert.equal(reply.status, 422);
      assert.equal(reply.body.error.code, 'backend_rejected_request');
    }
    assert.equal(p.fakes.other!.stats.requests, 0, 'not retried elsewhere');
    assert.equal(p.local.stats.requests, 0, 'no fallback for a client error');
    const s = backendStats(await stats(p.url), 'picky');
    assert.deepEqual([s.breaker_state, s.failures, s.client_errors], ['closed', 0, 3]);
  });

  test('retry_on_status_codes: a listed 4xx moves the call to another backend and counts against the one that said it', async () => {
    const p = await pool(
      [
        { name: 'lacking', entry: { priority: 0 }, behaviour: { mode: 'status', status: 404 } },
        { name: 'other', entry: { priority: 1 } },
      ],
      {
        routing_strategy: 'priority-failover',
        retry_on_status_codes: [404, 500],
      },
    );
    const reply = await post(p.url, '/rerank', QUERY);
    assert.equal(reply.status, 200);
    assert.equal(reply.headers.get('x-reranker-lb-backend'), 'other');
    const s = backendStats(await stats(p.url), 'lacking');
    assert.deepEqual([s.failures, s.client_errors], [1, 0]);
  });

  test('retry_on_status_codes without 429: the backend is parked, and the caller gets 429 with its Retry-After', async () => {
    const p = await pool(
      [
        { name: 'busy', entry: { priority: 0 }, behaviour: { mode: 'status', status: 429, retryAfter: '7' } },
        { name: 'other', entry: { priority: 1 } },
      ],
      {
        routing_strategy: 'priority-failover',
        retry_on_status_codes: [500],
      },
    );
    const reply = await post(p.url, '/rerank', QUERY);
    assert.deepEqual(
      [reply.status, reply.body.error.code, reply.headers.get('retry-after')],
      [429, 'rate_limited', '7'],
    );
    assert.equal(p.fakes.other!.stats.requests, 0, 'not moved on');
    assert.equal(p.local.stats.requests, 0, 'no fallback either: the call ended');
    const s = backendStats(await stats(p.url), 'busy');
    assert.ok(s.parked_for_ms > 6000 && s.breaker_state === 'closed', JSON.stringify(s));
  });

  test('a backend that hangs is cut at its timeout and the call succeeds elsewhere', async () => {
    const p = await pool(
      [
        { name: 'hang', entry: { priority: 0, timeout: 0.3 }, behaviour: { mode: 'hang' } },
        { name: 'good', entry: { priority: 1 } },
      ],
      { routing_strategy: 'priority-failover' },
    );
    const started = Date.now();
    const reply = await post(p.url, '/rerank', QUERY);
    const took = Date.now() - started;
    assert.equal(reply.status, 200);
    assert.equal(reply.headers.get('x-reranker-lb-backend'), 'good');
    assert.ok(took >= 280 && took < 2000, `took ${took} ms`);
    assert.equal(backendStats(await stats(p.url), 'hang').last_error.message, 'timed out');
  });

  test('an open breaker sends no traffic until its half-open probe succeeds', async () => {
    const clock = skipClock();
    const p = await pool(
      [
        { name: 'flaky', entry: { priority: 0 }, behaviour: { mode: 'status', status: 500 } },
        { name: 'steady', entry: { priority: 1 } },
      ],
      {
        routing_strategy: 'priority-failover',
        allowed_fails: 1,
        cooldown_time: 60,
      },
      { clock },
    );
    await servedBy(p.url, 2); // two failures > allowed_fails=1: open
    assert.equal(p.fakes.flaky!.stats.requests, 2);
    assert.equal(backendStats(await stats(p.url), 'flaky').breaker_state, 'open');
    p.fakes.flaky!.set({ mode: 'ok' }); // recovered, but the breaker does not know yet
    assert.deepEqual(countOf(await servedBy(p.url, 10)), { steady: 10 });
    assert.equal(p.fakes.flaky!.stats.requests, 2, 'no traffic while open');
    clock.skip(60_000); // cooldown: half-open
    assert.equal(backendStats(await stats(p.url), 'flaky').breaker_state, 'half-open');
    assert.deepEqual(await servedBy(p.url, 1), ['flaky'], 'the probe');
    assert.equal(backendStats(await stats(p.url), 'flaky').breaker_state, 'closed');
    assert.deepEqual(countOf(await servedBy(p.url, 5)), { flaky: 5 });
  });

  test('a failed half-open probe opens the breaker again', async () => {
    const clock = skipClock();
    const p = await pool(
      [
        { name: 'flaky', entry: { priority: 0 }, behaviour: { mode: 'status', status: 500 } },
        { name: 'steady', entry: { priority: 1 } },
      ],
      {
        routing_strategy: 'priority-failover',
        allowed_fails: 0,
        cooldown_time: 60,
      },
      { clock },
    );
    await servedBy(p.url, 1);
    clock.skip(60_000);
    await servedBy(p.url, 1); // the probe fails
    assert.equal(p.fakes.flaky!.stats.requests, 2);
    assert.equal(backendStats(await stats(p.url), 'flaky').breaker_state, 'open');
  });

  test('health checks remove a backend and restore it', async () => {
    const p = await pool([{ name: 'a' }, { name: 'b' }], {
      health_check_interval: 0.05,
      health_check_unhealthy_threshold: 2,
      health_check_healthy_threshold: 2,
      routing_strategy: 'round-robin',
    });
    await eventually(() => p.fakes.a!.stats.healthChecks >= 2, 3000, 'health checks to run');
    p.fakes.a!.set({ healthStatus: 503 });
    await eventually(
      async () => backendStats(await stats(p.url), 'a').healthy === false,
      3000,
      'a to be marked unhealthy',
    );
    const s = await stats(p.url);
    assert.equal(s.available_backends, 1);
    assert.match(backendStats(s, 'a').health_problem, /HTTP 503/);
    assert.deepEqual(countOf(await servedBy(p.url, 6)), { b: 6 });
    p.fakes.a!.set({ healthStatus: 200 });
    await eventually(async () => backendStats(await stats(p.url), 'a').healthy === true, 3000, 'a to be restored');
    assert.deepEqual(countOf(await servedBy(p.url, 6)), { a: 3, b: 3 });
  });

  test('a malformed backend answer is retried elsewhere and counted as a failure', async () => {
    const p = await pool(
      [
        { name: 'garbage', entry: { priority: 0 }, behaviour: { mode: 'malformed' } },
        { name: 'good', entry: { priority: 1 } },
      ],
      { routing_strategy: 'priority-failover' },
    );
    const reply = await post(p.url, '/rerank', QUERY);
    assert.equal(reply.status, 200);
    assert.equal(reply.headers.get('x-reranker-lb-backend'), 'good');
    const s = backendStats(await stats(p.url), 'garbage');
    assert.equal(s.failures, 1);
    assert.match(s.last_error.message, /^malformed answer: /);
  });

  test('retries re-try a failed backend only after every other one, with backoff, within num_retries', async () => {
    const p = await pool(
      [
        { name: 'x', behaviour: { mode: 'status', status: 500 } },
        { name: 'y', behaviour: { mode: 'status', status: 500 } },
      ],
      {
        num_retries: 3,
        retry_delay: 0.05,
        allowed_fails: 10,
        fallback_to_local: false,
      },
    );
    const started = Date.now();
    const reply = await post(p.url, '/rerank', QUERY);
    assert.equal(reply.status, 503);
    assert.ok(Number(reply.headers.get('retry-after')) >= 1);
    const attempts = (p.logs.find((l) => l.msg === 'rerank')!.attempts as any[]).map((a) => a.backend);
    assert.equal(attempts.length, 4, '1 + num_retries attempts');
    assert.notEqual(attempts[0], attempts[1], 'the first retry goes to the other backend');
    assert.ok(Date.now() - started >= 25, 'backoff before trying a backend again');
  });

  test('when every backend is out and there is no fallback: 503 with Retry-After naming the cause', async () => {
    const p = await pool([{ name: 'down', behaviour: { mode: 'status', status: 500 } }], {
      allowed_fails: 0,
      cooldown_time: 7,
      fallback_to_local: false,
    });
    assert.equal((await post(p.url, '/rerank', QUERY)).status, 503);
    const reply = await post(p.url, '/rerank', QUERY);
    assert.equal(reply.status, 503);
    assert.equal(reply.body.error.code, 'no_backend_available');
    const retryAfter = Number(reply.headers.get('retry-after'));
    assert.ok(retryAfter >= 6 && retryAfter <= 7, `Retry-After ${retryAfter} = time until the breaker half-opens`);
    assert.equal(p.fakes.down!.stats.requests, 1);
  });

  test('an empty retry budget stops retries after backend errors, but never failover away from a dead backend', async () => {
    const noBudget = {
      retry_budget_percent: 0,
      retry_budget_min: 0,
      routing_strategy: 'priority-failover',
      fallback_to_local: false,
      allowed_fails: 10,
    };
    const failing = await pool(
      [
        { name: 'erroring', entry: { priority: 0 }, behaviour: { mode: 'status', status: 500 } },
        { name: 'good', entry: { priority: 1 } },
      ],
      noBudget,
    );
    assert.equal(
      (await post(failing.url, '/rerank', QUERY)).status,
      503,
      'a 500 is not retried when the budget is empty',
    );
    assert.equal(failing.fakes.good!.stats.requests, 0);
    const dead = await pool(
      [
        { name: 'dead', entry: { priority: 0 } },
        { name: 'good', entry: { priority: 1 } },
      ],
      noBudget,
    );
    await dead.fakes.dead!.close(); // connection refused from now on
    const reply = await post(dead.url, '/rerank', QUERY);
    assert.equal(reply.status, 200, 'failover after a connection failure does not need the budget');
    assert.equal(reply.headers.get('x-reranker-lb-backend'), 'good');
  });
});
