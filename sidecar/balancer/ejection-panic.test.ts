/**
 * Outlier ejection is a guess from a few failures in a row: when it has ejected every backend
 * that could otherwise take a call (the last one failed after the others were ejected), an
 * ejected backend takes the call rather than nobody — but never while another backend can.
 * The real balancer and loopback backends, an injected clock.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startFakeReranker, type FakeReranker } from '../../test/fake-reranker/fake-reranker.ts';
import { plainRequest } from '../api/canonical.ts';
import { HttpClient } from '../backends/http-client.ts';
import { parseConfigText } from '../config/load.ts';
import type { Clock, Timers } from '../../common/clock.ts';
import { seededRandom } from '../../common/clock.ts';
import { Balancer } from './balancer.ts';

let a: FakeReranker;
let b: FakeReranker;
const client = new HttpClient();
before(async () => {
  [a, b] = await Promise.all([startFakeReranker({ name: 'a' }), startFakeReranker({ name: 'b' })]);
});
after(async () => {
  await client.close();
  await Promise.all([a, b].map((f) => f.close()));
});

let nowMs = 1_000_000;
const clock: Clock = { now: () => nowMs, wallNow: () => 1_700_001_000_000 };
const frozenTimers: Timers = { setTimeout: () => undefined, clearTimeout: () => undefined };

function balancer(extra = ''): Balancer {
  const entry = (name: string, url: string, priority: number) =>
    `  - model_name: ${name}\n    priority: ${priority}\n    litellm_params: { api_base: "${url}", api_format: native }`;
  const yaml = `model_list:\n${entry('a', a.url, 0)}\n${entry('b', b.url, 1)}\nrouter_settings:\n  routing_strategy: priority-failover\n  health_check_interval: 0\n  fallback_to_local: false\n${extra}`;
  return new Balancer(parseConfigText(yaml, 't', {}), { client, clock, timers: frozenTimers, random: seededRandom(1) });
}

const request = plainRequest('capital of france', ['paris is the capital of france', 'berlin']);
const eject = (lb: Balancer, name: string) => {
  const backend = lb.generation.backends.find((x) => x.spec.name === name)!;
  backend.outlier = { consecutive: 0, ejections: 1, ejectedUntil: clock.now() + 10_000 };
};

test('an ejected backend takes no call while another backend can', async () => {
  const lb = balancer();
  eject(lb, 'a'); // a is preferred (priority 0): only the ejection keeps calls off it
  const result = await lb.route(request, { callerAuthorization: undefined, localOnly: false });
  assert.equal(result.backend, 'b');
});

test('every backend ejected: the call is served by an ejected one instead of a 503', async () => {
  const lb = balancer();
  eject(lb, 'a');
  eject(lb, 'b');
  const result = await lb.route(request, { callerAuthorization: undefined, localOnly: false });
  assert.equal(result.backend, 'a', 'the strategy picks among the ejected backends as usual');
  assert.ok(result.answer.results.length > 0);
});

test('every backend ejected and its breaker half-open with the probe out: concurrent calls are served beside the probes, not refused', async () => {
  const lb = balancer('  allowed_fails: 0\n  cooldown_time: 1\n  num_retries: 0\n');
  // A failure each opens both breakers; both are ejected (a restart: they answer again at once).
  for (const f of [a, b]) f.set({ mode: 'status', status: 500 });
  for (let i = 0; i < 2; i++)
    await lb.route(request, { callerAuthorization: undefined, localOnly: false }).catch(() => undefined);
  assert.deepEqual(
    lb.generation.backends.map((x) => x.breakerState),
    ['open', 'open'],
  );
  eject(lb, 'a');
  eject(lb, 'b');
  nowMs += 1_000; // the cooldown is over: half-open
  for (const f of [a, b]) f.set({ mode: 'ok', latencyMs: 50 });
  const calls = Array.from({ length: 6 }, () =>
    lb.route(request, { callerAuthorization: undefined, localOnly: false }).then(
      (r) => r.backend,
      (error: unknown) => `refused: ${(error as Error).message}`,
    ),
  );
  const served = await Promise.all(calls);
  assert.ok(
    served.every((x) => x === 'a' || x === 'b'),
    `two probes out, four more calls: ${served.join(', ')}`,
  );
  assert.deepEqual(
    lb.generation.backends.map((x) => x.breakerState),
    ['closed', 'closed'],
    'each probe closed its breaker',
  );
});

test("a probe that hangs draws at most 4 calls beside it: the other ejected backend's probe goes first, and then it serves", async () => {
  const lb = balancer('  allowed_fails: 0\n  cooldown_time: 1\n  num_retries: 0\n  default_timeout: 1\n');
  for (const f of [a, b]) f.set({ mode: 'status', status: 500 });
  for (let i = 0; i < 2; i++)
    await lb.route(request, { callerAuthorization: undefined, localOnly: false }).catch(() => undefined);
  eject(lb, 'a');
  eject(lb, 'b');
  nowMs += 1_000;
  a.set({ mode: 'ok', latencyMs: 5_000 }); // a answers again, but hangs
  b.set({ mode: 'ok', latencyMs: 20 });
  const first = Array.from({ length: 8 }, () =>
    lb.route(request, { callerAuthorization: undefined, localOnly: false }).then(
      (r) => r.backend,
      () => 'failed',
    ),
  );
  const served = await Promise.all(first);
  const onA = served.filter((x) => x === 'failed').length;
  assert.ok(onA <= 5, `a's probe and at most 4 beside it: ${served.join(', ')}`);
  assert.ok(served.filter((x) => x === 'b').length >= 3, `b took its probe and the rest: ${served.join(', ')}`);
  assert.equal(lb.generation.backends[1]!.breakerState, 'closed');
  a.set({ latencyMs: 0 });
});
