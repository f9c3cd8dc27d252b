import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { KubeApiError } from '../../kube/api.ts';
import { createLogger } from '../../common/logger.ts';
import { manualTime } from '../../test/support/manual-time.ts';
import { nextWrite, type EventSeries } from './event-series.ts';
import { EventRecorder } from './recorder.ts';

const pool = (name: string) => ({
  apiVersion: 'reranker.dev/v1alpha1',
  kind: 'RerankerPool',
  name,
  namespace: 'ns',
  uid: `uid-${name}`,
});
const flush = async () => {
  for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
};

function setUp(
  fail: (method: string, path: string) => Error | undefined = () => undefined,
  options: { maxPending?: number } = {},
) {
  const time = manualTime();
  const calls: { method: string; path: string; body: any }[] = [];
  const recorder = new EventRecorder({
    api: {
      async request<T>(method: string, path: string, o: { body?: unknown } = {}) {
        calls.push({ method, path, body: o.body });
        await Promise.resolve();
        const error = fail(method, path);
        if (error !== undefined) throw error;
        return {} as T;
      },
    },
    clock: time.clock,
    timers: time.timers,
    logger: createLogger('silent'),
    component: 'reranker.dev/operator',
    instance: 'op-1',
    ...options,
  });
  return { time, calls, recorder };
}

describe('event recorder', () => {
  test('1,195 renders in 60 s: one Event object, created at once, patched at most once a minute, ending with the full count', async () => {
    const { time, calls, recorder } = setUp();
    for (let i = 1; i <= 1195; i++) {
      recorder.record(pool('search'), 'Normal', 'Rendered', `rendered config ${i}`);
      await flush();
      time.advance(50);
      await flush();
    }
    time.advance(60_000);
    await flush();
    const creates = calls.filter((c) => c.method === 'POST');
    const patches = calls.filter((c) => c.method === 'PATCH');
    assert.equal(creates.length, 1);
    assert.ok(patches.length <= 2, `${patches.length} patches`);
    assert.equal(creates[0]!.body.count, 1);
    assert.deepEqual(patches.at(-1)!.body.count, 1195);
    assert.equal(patches.at(-1)!.body.message, 'rendered config 1195');
    assert.ok(patches.every((p) => p.path === `/api/v1/namespaces/ns/events/${creates[0]!.body.metadata.name}`));
  });

  test('different objects and reasons are different series; record never waits for the API', async () => {
    const { calls, recorder } = setUp();
    recorder.record(pool('a'), 'Normal', 'Rendered', 'x');
    recorder.record(pool('b'), 'Normal', 'Rendered', 'x');
    recorder.record(pool('a'), 'Warning', 'ConfigTooLarge', 'y');
    assert.equal(calls.length, 1, 'the first POST has started; record returned before it finished');
    await flush();
    assert.deepEqual(
      calls.map((c) => `${c.method} ${c.body.involvedObject.name} ${c.body.reason}`),
      ['POST a Rendered', 'POST b Rendered', 'POST a ConfigTooLarge'],
    );
  });

  test('an expired Event (404 on patch) is created again with the running count', async () => {
    let gone = true;
    const { time, calls, recorder } = setUp((method) => {
      if (method !== 'PATCH' || !gone) return undefined;
      gone = false;
      return new KubeApiError(404, 'not found', 'NotFound');
    });
    recorder.record(pool('a'), 'Normal', 'Rendered', 'x');
    await flush();
    time.advance(70_000);
    recorder.record(pool('a'), 'Normal', 'Rendered', 'x');
    await flush();
    time.advance(60_000);
    await flush();
    assert.deepEqual(
      calls.map((c) => `${c.method} ${c.body.count}`),
      ['POST 1', 'PATCH 2', 'POST 2'],
    );
  });

  test('the queue is bounded: series beyond maxPending are dropped and counted', async () => {
    const { recorder } = setUp(undefined, { maxPending: 3 });
    for (let i = 0; i < 10; i++) recorder.record(pool(`p${i}`), 'Normal', 'Rendered', 'x');
    assert.ok(recorder.dropped >= 6, `dropped ${recorder.dropped}`);
  });
});

test('nextWrite: create first, then patch no more than once per interval', () => {
  const base: EventSeries = {
    involved: pool('a'),
    type: 'Normal',
    reason: 'R',
    message: 'm',
    count: 2,
    writtenCount: 1,
    firstAt: 0,
    lastAt: 0,
    name: 'a.1',
    lastWriteAt: 0,
    failures: 0,
  };
  const table: [string, Partial<EventSeries>, number, ReturnType<typeof nextWrite>][] = [
    ['nothing new', { count: 1 }, 50_000, { kind: 'none' }],
    ['not created yet', { name: undefined, writtenCount: 0, lastWriteAt: undefined }, 0, { kind: 'create' }],
    ['too soon', {}, 4000, { kind: 'wait', ms: 6000 }],
    ['interval passed', {}, 10_000, { kind: 'patch' }],
    ['create failed: retry after the interval', { name: undefined, failures: 1 }, 3000, { kind: 'wait', ms: 7000 }],
  ];
  for (const [name, change, now, want] of table)
    assert.deepEqual(nextWrite({ ...base, ...change }, now, 10_000), want, name);
});
