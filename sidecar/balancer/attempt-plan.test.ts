/**
 * Every branch of the attempt loop's decisions, on scripted time and randomness, without sockets:
 * the pure plan first, then the driver (Balancer.route) with a scripted send.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { plainRequest, type RankedAnswer } from '../api/canonical.ts';
import { AttemptError, classifyStatus } from '../backends/attempt-error.ts';
import { HttpClient } from '../backends/http-client.ts';
import type { SendTarget } from '../backends/send-rerank.ts';
import { parseConfigText } from '../config/load.ts';
import { ManualTime } from '../../common/manual-time.ts';
import {
  afterFailure,
  afterWait,
  hedgeDelayMs,
  newPlanState,
  nextHedge,
  nextStep,
  type PlanContext,
  type Step,
} from './attempt-plan.ts';
import { Balancer } from './balancer.ts';
import { RouteError } from './route-result.ts';
import { failureOf } from '../../test/support/route-failure.ts';

interface B {
  readonly name: string;
  readonly spec: { readonly timeoutMs: number };
}
const a: B = { name: 'a', spec: { timeoutMs: 1000 } };
const b: B = { name: 'b', spec: { timeoutMs: 1000 } };
const c: B = { name: 'c', spec: { timeoutMs: 5000 } };

function plan(over: Partial<PlanContext<B>> & { down?: B[]; randoms?: number[] } = {}): PlanContext<B> {
  const down = new Set(over.down ?? []);
  const randoms = [...(over.randoms ?? [0.5])];
  return {
    backends: [a, b, c],
    eligible: (x) => !down.has(x),
    pick: () => 0, // the strategy's choice is tested in strategies.case.test.ts: take the first
    random: () => randoms.shift() ?? 0.5,
    numRetries: 3,
    retryDelayMs: 100,
    deadline: 10_000,
    ...over,
  };
}

const show = (step: Step<B>) =>
  step.kind === 'attempt'
    ? `attempt ${step.backend.name} ${step.timeoutMs}ms${step.isRetry ? ' retry' : ''}`
    : step.kind === 'wait'
      ? `wait ${step.ms}ms`
      : `stop: ${step.reason}`;
const status500 = classifyStatus(500, undefined, { retryOnStatus: new Set([500]), credentials: 'none' }, undefined);
const refused = new AttemptError('network', 'connection failed (ECONNREFUSED)');

describe('attempt plan', () => {
  const cases: [string, (s: ReturnType<typeof newPlanState<B>>) => void, PlanContext<B>, number, boolean, string][] = [
    ['first attempt: the strategy picks among eligible backends', () => {}, plan(), 0, false, 'attempt a 1000ms'],
    [
      'the attempt time is capped by the request deadline',
      () => {},
      plan({ deadline: 400 }),
      0,
      false,
      'attempt a 400ms',
    ],
    [
      'failover goes to an untried backend at once, as a retry',
      (s) => afterFailure(s, a, status500),
      plan(),
      0,
      false,
      'attempt b 1000ms retry',
    ],
    [
      'failover after a connection failure is not a retry (no budget spent)',
      (s) => afterFailure(s, a, refused),
      plan(),
      0,
      false,
      'attempt b 1000ms',
    ],
    ['an ineligible backend is skipped', () => {}, plan({ down: [a] }), 0, false, 'attempt b 1000ms'],
    [
      'every eligible backend tried: back off retry_delay x 2^0 x jitter',
      (s) => {
        afterFailure(s, a, status500);
        afterFailure(s, b, status500);
      },
      plan({ down: [c], randoms: [0] }),
      0,
      false,
      'wait 50ms',
    ],
    [
      'the second backoff doubles',
      (s) => {
        afterFailure(s, a, status500);
        afterWait(s);
        afterFailure(s, a, status500);
      },
      plan({ down: [b, c], randoms: [1] }),
      0,
      false,
      'wait 200ms',
    ],
    [
      'after a backoff any eligible backend may be tried again',
      (s) => {
        afterFailure(s, a, status500);
        afterWait(s);
      },
      plan({ down: [b, c] }),
      0,
      false,
      'attempt a 1000ms retry',
    ],
    [
      'a backoff that would pass the deadline stops',
      (s) => afterFailure(s, a, status500),
      plan({ down: [b, c], deadline: 60 }),
      0,
      false,
      'stop: deadline',
    ],
    [
      'tried backends that became ineligible: nothing left',
      (s) => afterFailure(s, a, status500),
      plan({ down: [a, b, c] }),
      0,
      false,
      'stop: no eligible backend left',
    ],
    ['no eligible backend at all', () => {}, plan({ down: [a, b, c] }), 0, false, 'stop: no eligible backend left'],
    [
      '1 + num_retries attempts at most',
      (s) => {
        for (const x of [a, b, c, a]) afterFailure(s, x, status500);
      },
      plan(),
      0,
      false,
      'stop: attempts exhausted',
    ],
    ['the request deadline has passed', () => {}, plan({ deadline: 100 }), 100, false, 'stop: deadline'],
    ['the caller went away', () => {}, plan(), 0, true, 'stop: the caller went away'],
  ];
  for (const [name, prepare, ctx, now, aborted, want] of cases) {
    test(name, () => {
      const state = newPlanState<B>();
      prepare(state);
      assert.equal(show(nextStep(state, ctx, now, aborted)), want);
    });
  }
});

describe('hedge plan', () => {
  const cases: [string, (s: ReturnType<typeof newPlanState<B>>) => void, PlanContext<B>, B[], number, string][] = [
    [
      'the hedge goes to a backend neither tried nor in flight, as a retry',
      () => {},
      plan(),
      [a],
      0,
      'attempt b 1000ms retry',
    ],
    ['tried backends are skipped too', (s) => afterFailure(s, b, status500), plan(), [a], 0, 'attempt c 5000ms retry'],
    [
      'the hedge counts towards 1 + num_retries attempts',
      (s) => {
        afterFailure(s, b, status500);
        afterFailure(s, c, status500);
        afterFailure(s, b, status500);
      },
      plan(),
      [a],
      0,
      'stop: attempts exhausted',
    ],
    ['no other eligible backend: no hedge', () => {}, plan({ down: [b, c] }), [a], 0, 'stop: no eligible backend left'],
    ['the hedge time is capped by the deadline', () => {}, plan({ deadline: 300 }), [a], 100, 'attempt b 200ms retry'],
    ['past the deadline: no hedge', () => {}, plan({ deadline: 300 }), [a], 300, 'stop: deadline'],
  ];
  for (const [name, prepare, ctx, inFlight, now, want] of cases) {
    test(name, () => {
      const state = newPlanState<B>();
      prepare(state);
      assert.equal(show(nextHedge(state, ctx, now, inFlight, false)), want);
    });
  }

  const delays: [string, number | undefined, number | undefined, number, number | undefined][] = [
    ['a configured hedge_after wins over the recent p95', 50, 80, 1000, 50],
    ['otherwise the pool’s recent p95', undefined, 80, 1000, 80],
    ['no p95 yet (too few calls): no hedge', undefined, undefined, 1000, undefined],
    ['never at or past the attempt’s own timeout', 200, undefined, 200, undefined],
  ];
  for (const [name, after, p95, timeout, want] of delays)
    test(name, () => assert.equal(hedgeDelayMs(after, p95, timeout), want));
});

/** A balancer whose sends follow a script per backend: an answer, or an error to throw. */
function scripted(router: string, scripts: Record<string, (Error | 'ok')[]>) {
  const names = Object.keys(scripts);
  const entries = names
    .map((n, i) => `  - { model_name: ${n}, priority: ${i}, litellm_params: { api_base: "http://${n}.test:80" } }`)
    .join('\n');
  const config = parseConfigText(
    `model_list:\n${entries}\nrouter_settings:\n  routing_strategy: priority-failover\n  health_check_interval: 0\n  local_backend: { api_base: "http://local.test:80" }\n${router}`,
    't',
    {},
  );
  const time = new ManualTime();
  const sent: string[] = [];
  const answer: RankedAnswer = { results: [{ index: 0, score: 1 }], model: undefined, tokens: 1, usageSource: 'body' };
  const send = async (to: SendTarget) => {
    const name = new URL(to.target.origin).hostname.replace('.test', '');
    sent.push(name);
    const next = scripts[name]?.shift() ?? 'ok';
    if (next !== 'ok') throw next;
    return answer;
  };
  const balancer = new Balancer(config, {
    client: new HttpClient(),
    send,
    clock: time,
    timers: time,
    random: () => 0.5,
  });
  const request = plainRequest('q', ['d']);
  const route = (signal?: AbortSignal) =>
    balancer.route(request, { callerAuthorization: undefined, localOnly: false, signal });
  return { balancer, time, sent, route };
}

describe('attempt loop driver', () => {
  const s500 = () => classifyStatus(500, undefined, { retryOnStatus: new Set([500]), credentials: 'none' }, undefined);

  test('fails over to the next backend and reports every attempt', async () => {
    const t = scripted('', { a: [s500()], b: ['ok'] });
    const result = await t.route();
    assert.deepEqual(
      result.attempts.map((x) => [x.backend, x.outcome]),
      [
        ['a', 500],
        ['b', 200],
      ],
    );
    assert.equal(result.backend, 'b');
    t.balancer.close();
  });

  test('backs off on the timer before trying a backend again', async () => {
    const t = scripted('  retry_delay: 1\n  fallback_to_local: false\n', { a: [s500(), 'ok'] });
    const pending = t.route();
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(t.sent, ['a'], 'waiting, not sending');
    t.time.advance(749); // 1 s x 2^0 x (0.5 + 0.5/2) = 750 ms
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(t.sent, ['a']);
    t.time.advance(1);
    assert.equal((await pending).backend, 'a');
    assert.deepEqual(t.sent, ['a', 'a']);
    t.balancer.close();
  });

  test('a bug while reading an answer (not an AttemptError) surfaces as itself: no failover, no fallback, no strike', async () => {
    const t = scripted('  allowed_fails: 1\n', { a: [new TypeError('a bug'), new TypeError('a bug')], b: ['ok'] });
    await assert.rejects(t.route(), (e: unknown) => e instanceof TypeError && !(e instanceof RouteError));
    await assert.rejects(t.route(), TypeError);
    assert.deepEqual(t.sent, ['a', 'a']);
    const backend = t.balancer.generation.backends[0]!;
    assert.deepEqual([backend.failures, backend.breakerAdmits], [0, true]);
    const u = scripted('  num_retries: 0\n', { a: [s500()], local: [new TypeError('a bug')] });
    await assert.rejects(u.route(), (e: unknown) => e instanceof TypeError);
    assert.deepEqual(u.sent, ['a', 'local']);
    t.balancer.close();
    u.balancer.close();
  });

  test('a client error ends the call at once with the backend status, in our words', async () => {
    const t = scripted('', {
      a: [classifyStatus(422, undefined, { retryOnStatus: new Set(), credentials: 'none' }, 'raw text')],
      b: ['ok'],
    });
    const error = await failureOf(t.route());
    assert.deepEqual([error.status, error.code], [422, 'backend_rejected_request']);
    assert.doesNotMatch(error.message, /raw text/);
    assert.deepEqual(t.sent, ['a']);
    t.balancer.close();
  });

  test('an empty retry budget stops retries, but not failover after a connection failure', async () => {
    const budget = '  retry_budget_percent: 0\n  retry_budget_min: 0\n  fallback_to_local: false\n';
    const t = scripted(budget, { a: [s500()], b: ['ok'] });
    const error = await failureOf(t.route());
    assert.deepEqual([error.status, error.reason], [503, 'retry budget exhausted']);
    const u = scripted(budget, { a: [new AttemptError('network', 'connection failed (ECONNREFUSED)')], b: ['ok'] });
    assert.equal((await u.route()).backend, 'b');
    t.balancer.close();
    u.balancer.close();
  });

  test('exhausted attempts fall back to the local backend, marked', async () => {
    const t = scripted('  num_retries: 1\n', { a: [s500()], b: [s500()] });
    const result = await t.route();
    assert.deepEqual([result.backend, result.local], ['local', true]);
    assert.deepEqual(t.sent, ['a', 'b', 'local']);
    t.balancer.close();
  });

  test('without fallback: 503 naming the last backend and its failure, never its text', async () => {
    const t = scripted('  num_retries: 0\n  fallback_to_local: false\n', { a: [s500()] });
    const error = await failureOf(t.route());
    assert.deepEqual([error.status, error.code, error.reason], [503, 'no_backend_available', 'attempts exhausted']);
    assert.equal(error.message, 'no backend could serve: attempts exhausted (last failure: backend a: HTTP 500)');
    t.balancer.close();
  });

  test('a caller that went away gets no fallback and no further attempt', async () => {
    const t = scripted('', { a: [s500()] });
    const controller = new AbortController();
    controller.abort();
    const error = await failureOf(t.route(controller.signal));
    assert.deepEqual([error.status, error.code], [499, 'client_closed_request']);
    assert.deepEqual(t.sent, []);
    t.balancer.close();
  });

  test('every backend at its rate limit: 429 with Retry-After, not 503', async () => {
    const t = scripted('  fallback_to_local: false\n', { a: [] });
    const limited = parseConfigText(
      'model_list:\n  - { model_name: a, rpm: 1, litellm_params: { api_base: "http://a.test:80" } }\nrouter_settings:\n  health_check_interval: 0\n  fallback_to_local: false\n',
      't',
      {},
    );
    t.balancer.apply(limited);
    await t.route();
    const error = await failureOf(t.route());
    assert.deepEqual([error.status, error.code, error.retryAfterSeconds], [429, 'rate_limited', 60]);
    t.balancer.close();
  });

  test('a call keeps the generation it started on across a reload', async () => {
    const t = scripted('  num_retries: 0\n', { a: ['ok'] });
    const pinned = t.balancer.generation;
    t.balancer.apply(
      parseConfigText(
        'model_list:\n  - { model_name: z, litellm_params: { api_base: "http://z.test:80" } }\nrouter_settings:\n  health_check_interval: 0\n',
        't2',
        {},
      ),
    );
    const result = await t.balancer.route(plainRequest('q', ['d']), {
      callerAuthorization: undefined,
      localOnly: false,
      generation: pinned,
    });
    assert.deepEqual([result.backend, result.generation.number], ['a', 1]);
    t.balancer.close();
  });
});
