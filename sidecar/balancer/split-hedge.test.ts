/**
 * The driver carrying out splits and hedges (Balancer.route), on manual time with a scripted send:
 * each backend answers after a scripted delay on the manual clock, or fails; no sockets.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { plainRequest, type RankedAnswer, type RerankRequest } from '../api/canonical.ts';
import { AttemptError, classifyStatus } from '../backends/attempt-error.ts';
import { HttpClient } from '../backends/http-client.ts';
import type { SendOptions, SendTarget } from '../backends/send-rerank.ts';
import { parseConfigText } from '../config/load.ts';
import { ManualTime } from '../../common/manual-time.ts';
import { Balancer } from './balancer.ts';
import { failureOf } from '../../test/support/route-failure.ts';
import { NO_OBSERVER, type HedgeEvent } from './observer.ts';

type Script = { ms: number } | AttemptError;

interface Backends {
  readonly [name: string]: { entry?: string; script?: Script[]; msPerDocument?: number };
}

/** Scores: the document's number, so the merged order is known: "d7" scores 7. */
function answerOf(request: RerankRequest): RankedAnswer {
  const results = request.documents
    .map((d, index) => ({ index, score: Number(d.slice(1)) }))
    .sort((x, y) => y.score - x.score);
  return {
    results: request.topN === undefined ? results : results.slice(0, request.topN),
    model: 'm',
    tokens: request.documents.length,
    usageSource: 'body',
  };
}

function lab(backends: Backends, router: string, strategy = 'priority-failover') {
  const names = Object.keys(backends);
  const entries = names
    .map(
      (n, i) =>
        `  - { model_name: ${n}, priority: ${i}, litellm_params: { api_base: "http://${n}.test:80" ${backends[n]!.entry ?? ''} } }`,
    )
    .join('\n');
  const config = parseConfigText(
    `model_list:\n${entries}\nrouter_settings:\n  routing_strategy: ${strategy}\n  health_check_interval: 0\n  fallback_to_local: false\n  local_backend: { api_base: "http://local.test:80" }\n${router}`,
    't',
    {},
  );
  const time = new ManualTime();
  const sent: { backend: string; documents: number; signal: AbortSignal | undefined }[] = [];
  const events: HedgeEvent[] = [];
  const send = (to: SendTarget, request: RerankRequest, options: SendOptions): Promise<RankedAnswer> => {
    const name = new URL(to.target.origin).hostname.replace('.test', '');
    sent.push({ backend: name, documents: request.documents.length, signal: options.signal });
    const spec = backends[name]!;
    const next = spec.script?.shift() ?? { ms: (spec.msPerDocument ?? 0) * request.documents.length };
    if (next instanceof AttemptError) return Promise.reject(next);
    return new Promise((resolve, reject) => {
      const timer = time.setTimeout(() => resolve(answerOf(request)), next.ms);
      options.signal?.addEventListener('abort', () => {
        time.clearTimeout(timer);
        reject(new AttemptError('cancelled', 'cancelled'));
      });
    });
  };
  const balancer = new Balancer(config, {
    client: new HttpClient(),
    send,
    clock: time,
    timers: time,
    random: () => 0.5,
    observer: { ...NO_OBSERVER, hedge: (e) => events.push(e) },
  });
  const route = (documents: number, topN?: number, signal?: AbortSignal) =>
    balancer.route(
      {
        ...plainRequest(
          'q',
          Array.from({ length: documents }, (_d, i) => `d${i}`),
        ),
        topN,
      },
      { callerAuthorization: undefined, localOnly: false, signal },
    );
  /** Lets promises settle, then moves the manual clock. */
  const settle = async (ms = 0) => {
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    time.advance(ms);
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
  };
  return { balancer, time, sent, events, route, settle };
}

const s500 = () => classifyStatus(500, undefined, { retryOnStatus: new Set([500]), credentials: 'none' }, undefined);

describe('split calls', () => {
  test('a call over a TEI backend’s 32-document default goes out in even chunks, in parallel, merged', async () => {
    const t = lab(
      { a: { entry: ', api_format: tei', msPerDocument: 1 }, b: { entry: ', api_format: tei', msPerDocument: 1 } },
      '',
    );
    const pending = t.route(100, 5);
    await t.settle();
    assert.deepEqual(
      t.sent.map((s) => s.documents),
      [25, 25, 25, 25],
      'every chunk sent at once',
    );
    await t.settle(25);
    const result = await pending;
    assert.deepEqual(
      result.answer.results.map((r) => r.index),
      [99, 98, 97, 96, 95],
      'caller indices, global top_n',
    );
    assert.deepEqual(
      result.chunks?.map((c) => c.documents),
      [
        [0, 25],
        [25, 50],
        [50, 75],
        [75, 100],
      ],
    );
    assert.equal(result.answer.tokens, 100);
    assert.deepEqual(
      result.attempts.map((x) => x.chunk),
      [0, 1, 2, 3],
    );
    t.balancer.close();
  });

  test('each chunk fails over on its own; the call still answers', async () => {
    const t = lab(
      {
        a: { entry: ', max_documents_per_call: 10', script: [{ ms: 0 }, s500()] },
        b: { entry: ', max_documents_per_call: 10' },
      },
      '',
    );
    const pending = t.route(20);
    await t.settle();
    const result = await pending;
    assert.deepEqual(
      result.chunks?.map((c) => c.backend),
      ['a', 'b'],
    );
    assert.deepEqual(result.attempts.map((x) => `${x.chunk}:${x.backend}:${x.outcome}`).sort(), [
      '0:a:200',
      '1:a:500',
      '1:b:200',
    ]);
    assert.equal(result.backend, 'a,b');
    t.balancer.close();
  });

  test('a chunk nothing can serve fails the call, and cancels the chunks still in flight', async () => {
    const t = lab(
      { a: { entry: ', max_documents_per_call: 10', script: [{ ms: 1000 }, s500()] } },
      '  num_retries: 0\n',
    );
    const pending = failureOf(t.route(20));
    await t.settle();
    const error = await pending;
    assert.deepEqual([error.status, error.code], [503, 'no_backend_available']);
    assert.match(error.reason ?? '', /^chunk 2 of 2: attempts exhausted/);
    assert.equal(t.sent[0]!.signal?.aborted, true, 'the other chunk was cancelled');
    t.balancer.close();
  });

  test('shard_min_documents splits within limits over the eligible backends: 600 over 3 in a third of the time', async () => {
    const backends = { a: { msPerDocument: 1 }, b: { msPerDocument: 1 }, c: { msPerDocument: 1 } };
    const t = lab(backends, '  shard_min_documents: 300\n', 'least-busy');
    const started = t.time.now();
    const pending = t.route(600);
    await t.settle(200);
    const result = await pending;
    assert.equal(t.time.now() - started, 200);
    assert.deepEqual(t.sent.map((s) => [s.backend, s.documents]).sort(), [
      ['a', 200],
      ['b', 200],
      ['c', 200],
    ]);
    assert.equal(result.answer.results.length, 600);
    t.balancer.close();
  });

  test('chunks go only to backends of one configured model', async () => {
    const t = lab(
      {
        a: { entry: ', model: bge-v2, max_documents_per_call: 10' },
        b: { entry: ', model: bge-v1' },
        c: { entry: ', model: bge-v2, max_documents_per_call: 10' },
      },
      '',
      'round-robin',
    );
    for (let i = 0; i < 3; i++) {
      const pending = t.route(30);
      await t.settle();
      const result = await pending;
      // b (unlimited) takes the call whole; a and c (10 per call) share it in chunks.
      const served = result.chunks?.map((c) => c.backend) ?? [result.backend];
      const models = new Set(served.map((name) => (name === 'b' ? 'bge-v1' : 'bge-v2')));
      assert.equal(models.size, 1, `call ${i}: ${result.backend}`);
    }
    t.balancer.close();
  });
});

describe('hedged attempts', () => {
  const slowA = (ms: number) => ({ a: { script: [{ ms }] }, b: { script: [{ ms: 10 }] }, c: {} });

  test('off by default: a slow attempt is waited for', async () => {
    const t = lab(slowA(500), '');
    const pending = t.route(1);
    await t.settle(500);
    assert.equal((await pending).backend, 'a');
    assert.deepEqual(
      t.sent.map((s) => s.backend),
      ['a'],
    );
    t.balancer.close();
  });

  test('an attempt unanswered at hedge_after is hedged; the first answer wins, the other is cancelled', async () => {
    const t = lab(
      slowA(500),
      '  hedging: true\n  hedge_after: 0.1\n  retry_budget_min: 10\n  hedge_budget_percent: 100\n',
    );
    const pending = t.route(1);
    await t.settle(99);
    assert.deepEqual(
      t.sent.map((s) => s.backend),
      ['a'],
      'not before hedge_after',
    );
    await t.settle(1);
    assert.deepEqual(
      t.sent.map((s) => s.backend),
      ['a', 'b'],
    );
    await t.settle(10);
    const result = await pending;
    assert.equal(result.backend, 'b');
    assert.equal(t.sent[0]!.signal?.aborted, true, 'the slow attempt was aborted');
    assert.deepEqual(
      result.attempts.map((x) => [x.backend, x.outcome, x.role]),
      [
        ['b', 200, 'hedge'],
        ['a', 'cancelled', undefined],
      ],
    );
    assert.deepEqual(t.events, ['sent', 'hedge_won']);
    assert.equal(t.balancer.generation.backends[0]!.failures, 0, 'a lost hedge does not count against the backend');
    t.balancer.close();
  });

  test('a fast attempt is never hedged', async () => {
    const t = lab(slowA(50), '  hedging: true\n  hedge_after: 0.1\n  hedge_budget_percent: 100\n');
    const pending = t.route(1);
    await t.settle(50);
    assert.equal((await pending).backend, 'a');
    await t.settle(100);
    assert.deepEqual(
      t.sent.map((s) => s.backend),
      ['a'],
    );
    t.balancer.close();
  });

  test('if the first attempt fails while the hedge is in flight, the hedge answers', async () => {
    const t = lab(
      { a: { script: [{ ms: 1000 }] }, b: { script: [{ ms: 300 }] }, c: {} },
      '  hedging: true\n  hedge_after: 0.1\n  hedge_budget_percent: 100\n',
    );
    const pending = t.route(1);
    await t.settle(100);
    await t.settle(300);
    assert.equal((await pending).backend, 'b');
    t.balancer.close();
  });

  test('hedges stay within hedge_budget_percent of the calls (10%: 1 hedge per 10 calls)', async () => {
    const slow = Array.from({ length: 20 }, () => ({ ms: 500 }));
    const t = lab(
      { a: { script: slow }, b: { msPerDocument: 0 }, c: {} },
      '  hedging: true\n  hedge_after: 0.1\n  retry_budget_min: 100\n',
    );
    const calls = Array.from({ length: 20 }, () => t.route(1));
    await t.settle(100);
    await t.settle(500);
    await Promise.all(calls);
    assert.equal(t.events.filter((e) => e === 'sent').length, 2);
    assert.equal(t.events.filter((e) => e === 'budget_exhausted').length, 18);
    t.balancer.close();
  });

  test('without hedge_after the delay is the pool’s recent p95, once enough calls were seen', async () => {
    const t = lab(
      { a: { msPerDocument: 10 }, b: { msPerDocument: 10 }, c: {} },
      '  hedging: true\n  hedge_budget_percent: 100\n  retry_budget_min: 100\n',
    );
    for (let i = 0; i < 20; i++) {
      const p = t.route(1);
      await t.settle(10);
      await p;
    }
    assert.equal(t.events.length, 0, 'no hedge before the p95 is known');
    const sentBefore = t.sent.length;
    const p = t.route(3); // 30 ms on a: past the 10 ms p95
    await t.settle(10);
    assert.equal(t.sent.length, sentBefore + 2, 'hedged at the p95');
    await t.settle(30);
    await p;
    t.balancer.close();
  });

  test('hedging and splitting combine: a chunk stuck on a slow backend is hedged on its own', async () => {
    const t = lab(
      {
        a: { entry: ', max_documents_per_call: 10', script: [{ ms: 1000 }] },
        b: { entry: ', max_documents_per_call: 10' },
        c: { entry: ', max_documents_per_call: 10' },
      },
      '  hedging: true\n  hedge_after: 0.1\n  hedge_budget_percent: 100\n',
      'round-robin',
    );
    const pending = t.route(20);
    await t.settle();
    await t.settle(100); // the hedge delay of chunk 0 (on a) passes: its hedge goes out
    await t.settle(); // and answers
    const result = await pending;
    assert.equal(result.answer.results.length, 20);
    assert.deepEqual(t.events, ['sent', 'hedge_won']);
    assert.equal(t.sent.find((s) => s.backend === 'a')!.signal?.aborted, true);
    t.balancer.close();
  });
});

describe('a cancelled attempt is neither success nor failure for the breaker', () => {
  // a fails once (allowed_fails 0: its breaker opens); after cooldown_time it is half-open.
  const halfOpenA = async (scriptA: Script[], router = '') => {
    const t = lab(
      { a: { script: [s500(), ...scriptA] }, b: { script: [{ ms: 10 }, { ms: 10 }] }, c: {} },
      `  allowed_fails: 0\n  cooldown_time: 1\n${router}`,
    );
    const first = t.route(1);
    await t.settle(10);
    assert.equal((await first).backend, 'b');
    const a = t.balancer.generation.backends[0]!;
    assert.equal(a.breakerState, 'open');
    await t.settle(1000);
    assert.equal(a.breakerState, 'half-open');
    return { t, a };
  };

  test('a hedge that beats the half-open probe leaves the breaker half-open, its probe free', async () => {
    const { t, a } = await halfOpenA(
      [{ ms: 500 }, { ms: 10 }],
      '  hedging: true\n  hedge_after: 0.1\n  hedge_budget_percent: 100\n  retry_budget_min: 10\n',
    );
    const probe = t.route(1);
    await t.settle(100); // a (the probe) has not answered: hedged to b
    await t.settle(10);
    const result = await probe;
    assert.deepEqual(
      result.attempts.map((x) => [x.backend, x.outcome]),
      [
        ['b', 200],
        ['a', 'cancelled'],
      ],
    );
    assert.deepEqual([a.breakerState, a.breakerAdmits], ['half-open', true], 'not closed by a cancellation');
    const next = t.route(1);
    await t.settle(10);
    assert.equal((await next).backend, 'a', 'the next call is the probe');
    assert.equal(a.breakerState, 'closed', 'a real answer closes it');
    t.balancer.close();
  });

  test('a caller who leaves during the half-open probe leaves the breaker half-open, its probe free', async () => {
    const { t, a } = await halfOpenA([{ ms: 500 }]);
    const caller = new AbortController();
    const probe = t.route(1, undefined, caller.signal);
    await t.settle(50);
    caller.abort();
    assert.equal((await failureOf(probe)).status, 499);
    assert.deepEqual([a.breakerState, a.breakerAdmits, a.failures], ['half-open', true, 1]);
    t.balancer.close();
  });

  test('a cancellation between failures does not reset the count of failures in a row', async () => {
    const t = lab({ a: { script: [s500(), { ms: 500 }, s500()] }, b: {}, c: {} }, '  allowed_fails: 1\n');
    const first = t.route(1);
    await t.settle();
    await first;
    const caller = new AbortController();
    const cancelled = t.route(1, undefined, caller.signal);
    await t.settle(10);
    caller.abort();
    await failureOf(cancelled);
    const third = t.route(1);
    await t.settle();
    await third;
    assert.equal(t.balancer.generation.backends[0]!.breakerState, 'open', 'two failures in a row > allowed_fails 1');
    t.balancer.close();
  });
});
