/**
 * rpm/tpm/parallel limits through the real balancer and real loopback backends, with an injected
 * clock: time moves only when the test says so.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startFakeReranker, type FakeReranker } from '../../test/fake-reranker/fake-reranker.ts';
import { plainRequest, type RerankRequest } from '../api/canonical.ts';
import { HttpClient } from '../backends/http-client.ts';
import { parseConfigText } from '../config/load.ts';
import { LbError } from '../errors.ts';
import type { Clock, Timers } from '../../common/clock.ts';
import { seededRandom } from '../../common/clock.ts';
import { Balancer } from './balancer.ts';
import { estimateTokens } from './token-estimate.ts';

let a: FakeReranker;
let b: FakeReranker;
let local: FakeReranker;
const client = new HttpClient();
before(async () => {
  [a, b, local] = await Promise.all([
    startFakeReranker({ name: 'a' }),
    startFakeReranker({ name: 'b', format: 'tei' }),
    startFakeReranker({ name: 'local' }),
  ]);
});
after(async () => {
  await client.close();
  await Promise.all([a, b, local].map((f) => f.close()));
});

class ManualClock implements Clock {
  t = 1_000_000;
  now(): number {
    return this.t;
  }
  wallNow(): number {
    return 1_700_000_000_000 + this.t;
  }
}

/** Timers that never fire: nothing in these tests may depend on real time passing. */
const frozenTimers: Timers = { setTimeout: () => undefined, clearTimeout: () => undefined };

const request: RerankRequest = plainRequest('capital of france', ['paris is the capital of france', 'berlin']);
const cost = estimateTokens(request);

function balancer(clock: ManualClock, entries: string, router = ''): Balancer {
  const yaml = `model_list:\n${entries}\nrouter_settings:\n  routing_strategy: priority-failover\n  health_check_interval: 0\n  local_backend: { api_base: "${local.url}" }\n${router}`;
  return new Balancer(parseConfigText(yaml, 't', {}), { client, clock, timers: frozenTimers, random: seededRandom(1) });
}

function entry(name: string, url: string, priority: number, limits: string, format = 'native'): string {
  return `  - model_name: ${name}\n    priority: ${priority}\n    ${limits}\n    litellm_params: { api_base: "${url}", api_format: ${format} }`;
}

async function route(lb: Balancer): Promise<string> {
  const result = await lb.route(request, { callerAuthorization: undefined, localOnly: false });
  return result.backend;
}

async function rejection(lb: Balancer): Promise<LbError> {
  try {
    await route(lb);
  } catch (error) {
    assert.ok(error instanceof LbError);
    return error;
  }
  assert.fail('expected the call to be refused');
}

describe('rate limits', () => {
  test('rpm holds over a sliding window and a limited backend is skipped', async () => {
    const clock = new ManualClock();
    const lb = balancer(clock, `${entry('a', a.url, 0, 'rpm: 3')}\n${entry('b', b.url, 1, 'rpm: 1000', 'tei')}`);
    const served: string[] = [];
    for (let i = 0; i < 3; i++) {
      served.push(await route(lb));
      clock.t += 10_000;
    }
    served.push(await route(lb)); // t = +30 s: a has used 3 of 3
    assert.deepEqual(served, ['a', 'a', 'a', 'b']);
    clock.t += 29_000; // +59 s: the first call is still inside the last 60 s
    assert.equal(await route(lb), 'b');
    clock.t += 1_500; // +60.5 s: the first call has left the window
    assert.equal(await route(lb), 'a');
    assert.equal(await route(lb), 'b', 'only one slot came free');
    lb.close();
  });

  test('tpm counts N x query tokens + document tokens, and is corrected by reported usage', async () => {
    const clock = new ManualClock();
    // b speaks TEI, whose answers report x-compute-tokens; the fake reports the same estimate.
    const lb = balancer(clock, `${entry('b', b.url, 0, `tpm: ${cost * 2}`, 'tei')}\n${entry('a', a.url, 1, '')}`);
    assert.equal(await route(lb), 'b');
    assert.equal(await route(lb), 'b');
    assert.equal(await route(lb), 'a', 'b is at its tpm limit');
    lb.close();
  });

  test('usage reported by the backend replaces the estimate in the tpm window', async () => {
    const clock = new ManualClock();
    const lb = balancer(clock, entry('b', b.url, 0, `tpm: ${cost * 2}`, 'tei'), '  fallback_to_local: false\n');
    const backend = lb.generation.backends[0]!;
    b.set({ reportedTokens: 3 });
    try {
      for (let i = 0; i < 5; i++) assert.equal(await route(lb), 'b', 'five calls fit: each really cost 3 tokens');
      assert.equal(backend.tokenWindow.total(clock.now()), 15);
      b.set({ reportedTokens: cost * 2 });
      await route(lb); // reports the whole limit
      assert.equal((await rejection(lb)).status, 429);
    } finally {
      b.set({ reportedTokens: undefined });
    }
    lb.close();
  });

  test('when every backend is limited: 429 with Retry-After = time until the earliest has room', async () => {
    const clock = new ManualClock();
    const lb = balancer(
      clock,
      `${entry('a', a.url, 0, 'rpm: 1')}\n${entry('b', b.url, 1, 'rpm: 1', 'tei')}`,
      '  fallback_to_local: false\n',
    );
    await route(lb); // a, at t
    clock.t += 20_000;
    await route(lb); // b, at t + 20 s
    clock.t += 5_000;
    const error = await rejection(lb);
    assert.equal(error.status, 429);
    assert.equal(error.code, 'rate_limited');
    assert.equal(error.retryAfterSeconds, 35, "a's call leaves the window at t + 60 s; now is t + 25 s");
    lb.close();
  });

  test('when every backend is limited and fallback_to_local is on, the local backend serves', async () => {
    const clock = new ManualClock();
    const lb = balancer(clock, entry('a', a.url, 0, 'rpm: 1'));
    assert.equal(await route(lb), 'a');
    const before = local.stats.requests;
    const result = await lb.route(request, { callerAuthorization: undefined, localOnly: false });
    assert.deepEqual([result.backend, result.local], ['local', true]);
    assert.equal(local.stats.requests, before + 1);
    lb.close();
  });

  test('max_parallel_requests caps calls in flight', async () => {
    const clock = new ManualClock();
    a.set({ latencyMs: 50 });
    try {
      const lb = balancer(
        clock,
        `${entry('a', a.url, 0, 'max_parallel_requests: 2')}\n${entry('b', b.url, 1, '', 'tei')}`,
      );
      const served = await Promise.all([route(lb), route(lb), route(lb), route(lb)]);
      assert.deepEqual(served.sort(), ['a', 'a', 'b', 'b']);
      lb.close();
    } finally {
      a.set({ latencyMs: 0 });
    }
  });
});
