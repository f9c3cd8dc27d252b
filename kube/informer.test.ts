/**
 * The informer's loop against a scripted list/watch API on a manual clock: a watch the server ends
 * resumes from the last resourceVersion without a list; lists come from the watch cache (RV 0,
 * then the last RV) and consistently, in pages, only after the server refuses the RV; a silent
 * watch is aborted by the watchdog only after the server's own timeout; a re-list reports what
 * changed while disconnected (deletions included); watches that close at once back off.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createLogger } from '../common/logger.ts';
import { manualTime } from '../test/support/manual-time.ts';
import { KubeApiError, type KubeObject, type ObjectList, type WatchEvent } from './api.ts';
import { Informer, type ListWatchApi } from './informer.ts';
import { ProtobufError } from './protobuf/wire.ts';
import { readWatchLines } from './watch-lines.ts';

type WatchStep = WatchEvent[] | 'hang' | Error;
type ListStep = { items: KubeObject[]; rv: string; continue?: string } | Error;

/**
 * Each call plays the next step of its script (the last one repeats): a list returns items or
 * throws; a watch yields events then ends, hangs until aborted, or throws. Queries are recorded.
 */
function scriptedApi(lists: ListStep[], watches: WatchStep[]) {
  const calls = {
    lists: [] as Record<string, string | undefined>[],
    watches: [] as Record<string, string | undefined>[],
  };
  const api: ListWatchApi = {
    async list<T extends KubeObject>(_path: string, query: Record<string, string | undefined>): Promise<ObjectList<T>> {
      calls.lists.push(query);
      const step = lists.length > 1 ? lists.shift()! : lists[0]!;
      if (step instanceof Error) throw step;
      return { items: step.items as T[], resourceVersion: step.rv, continue: step.continue };
    },
    async *watch(_path, query, signal) {
      calls.watches.push(query);
      const step = watches.length > 1 ? watches.shift()! : (watches[0] ?? 'hang');
      if (step instanceof Error) throw step;
      if (step === 'hang') {
        await new Promise((_resolve, reject) =>
          signal.addEventListener('abort', () => reject(signal.reason), { once: true }),
        );
        return;
      }
      yield* step;
    },
  };
  return { api, calls };
}

const cm = (name: string, rv: string): KubeObject => ({ metadata: { name, namespace: 'ns', resourceVersion: rv } });
const flush = async (n = 10) => {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
};

function informer(
  api: ListWatchApi,
  time = manualTime(),
  options: { watchTimeoutSeconds?: number; protobuf?: (m: Uint8Array) => KubeObject } = {},
) {
  const restarts: string[] = [];
  const events: string[] = [];
  const inf = new Informer<KubeObject>(api, {
    name: 'configmaps',
    path: '/api/v1/configmaps',
    onEvent: (event, object) => events.push(`${event} ${object.metadata.name}@${object.metadata.resourceVersion}`),
    onRestart: (reason) => restarts.push(reason),
    logger: createLogger('silent'),
    timers: time.timers,
    clock: time.clock,
    random: () => 0.5,
    ...options,
  });
  return { inf, restarts, events, time };
}

test('the first list comes from the watch cache; a watch the server ends resumes from the last resourceVersion, without a list', async () => {
  const { api, calls } = scriptedApi(
    [{ items: [cm('a', '1')], rv: '5' }],
    [
      [{ type: 'BOOKMARK', object: { metadata: { resourceVersion: '7' } } }],
      [{ type: 'MODIFIED', object: cm('a', '9') }],
      'hang',
    ],
  );
  const { inf, restarts, time } = informer(api);
  inf.start();
  await flush();
  time.advance(2000); // the first two watches "lasted" long enough to be healthy ends
  await flush();
  inf.stop();
  assert.deepEqual(calls.lists, [
    { resourceVersion: '0', limit: '500', labelSelector: undefined, fieldSelector: undefined },
  ]);
  assert.deepEqual(
    calls.watches.map((q) => [q.resourceVersion, q.allowWatchBookmarks]),
    [
      ['5', 'true'],
      ['7', 'true'],
      ['9', 'true'],
    ],
  );
  assert.equal(Number(calls.watches[0]!.timeoutSeconds), 450, 'the server-side timeout is jittered in 300-600 s');
  assert.deepEqual(restarts, []);
  assert.equal(inf.store.get('ns/a')?.metadata.resourceVersion, '9');
});

test('410 Gone in a watch: a list from the watch cache at the last RV; if that RV is expired too, a consistent list in pages', async () => {
  const gone = new KubeApiError(410, 'too old resource version', 'Expired');
  const { api, calls } = scriptedApi(
    [
      { items: [cm('a', '1')], rv: '5' },
      gone,
      { items: [cm('a', '2')], rv: '60', continue: 'page2' },
      { items: [cm('b', '1')], rv: '60' },
    ],
    [
      [
        { type: 'ADDED', object: cm('c', '6') },
        {
          type: 'ERROR',
          object: { kind: 'Status', code: 410, reason: 'Expired', message: 'too old resource version: 6 (50)' },
        },
      ],
      'hang',
    ],
  );
  const { inf, restarts, events, time } = informer(api);
  inf.start();
  await flush();
  time.advance(1200); // one backoff: 800 ms x (1 + 0.5)
  await flush();
  inf.stop();
  const asked = calls.lists.map(({ resourceVersion, resourceVersionMatch, limit, continue: token }) => ({
    resourceVersion,
    resourceVersionMatch,
    limit,
    continue: token,
  }));
  assert.deepEqual(asked, [
    { resourceVersion: '0', resourceVersionMatch: undefined, limit: '500', continue: undefined },
    { resourceVersion: '6', resourceVersionMatch: 'NotOlderThan', limit: undefined, continue: undefined },
    { resourceVersion: undefined, resourceVersionMatch: undefined, limit: '500', continue: undefined },
    { resourceVersion: undefined, resourceVersionMatch: undefined, limit: '500', continue: 'page2' },
  ]);
  assert.deepEqual(
    restarts,
    ['watch /api/v1/configmaps: too old resource version: 6 (50)'],
    'only the watch failure counts; the fallback is no failure',
  );
  assert.deepEqual(events, ['added a@1', 'added c@6', 'updated a@2', 'added b@1', 'deleted c@6']);
  assert.equal(calls.watches.at(-1)!.resourceVersion, '60');
});

test('watches that close at once back off exponentially: a bounded number of calls, growing gaps', async () => {
  const { api, calls } = scriptedApi([{ items: [], rv: '5' }], [[]]);
  const { inf, restarts, time } = informer(api);
  inf.start();
  await flush();
  const at: number[] = [];
  for (let ms = 0; ms < 60_000; ms += 100) {
    const before = calls.watches.length;
    time.advance(100);
    await flush(4);
    if (calls.watches.length > before) at.push(ms);
  }
  inf.stop();
  // 1.2, 2.4, 4.8, 9.6, 19.2, 38.4 s (x1.5 jitter): 6 more watches in a minute, not thousands.
  assert.ok(calls.watches.length <= 8, `${calls.watches.length} watches in 60 s`);
  assert.equal(
    calls.lists.length,
    calls.watches.length,
    'each instant close lists again (from the cache) before the next watch',
  );
  assert.ok(calls.lists.slice(1).every((q) => q.resourceVersion === '5' && q.resourceVersionMatch === 'NotOlderThan'));
  for (let i = 2; i < at.length; i++)
    assert.ok(at[i]! - at[i - 1]! > at[i - 1]! - at[i - 2]!, `growing gaps: ${at.join(', ')}`);
  assert.equal(restarts.length, calls.watches.length);
});

test('a 429 with Retry-After waits that long before it watches again', async () => {
  const { api, calls } = scriptedApi(
    [{ items: [], rv: '5' }],
    [new KubeApiError(429, 'slow down', 'TooManyRequests', 10), 'hang'],
  );
  const { inf, time } = informer(api);
  inf.start();
  await flush();
  time.advance(9_900);
  await flush();
  assert.equal(calls.watches.length, 1, 'not before the 10 s Retry-After');
  time.advance(200);
  await flush();
  inf.stop();
  assert.equal(calls.watches.length, 2);
  assert.equal(calls.lists.length, 1, 'no list: the RV we hold is still good');
});

test("a quiet watch is not restarted before the server's own timeout + 30 s; a dead one is, then", async () => {
  // kube-apiserver 1.34 sent the first bookmark on a quiet watch after 120 s: no client timer
  // may be shorter than the watch's server-side timeout.
  const time = manualTime();
  const { api, calls } = scriptedApi([{ items: [], rv: '5' }], ['hang']);
  const { inf, restarts } = informer(api, time, { watchTimeoutSeconds: 300 });
  inf.start();
  await flush();
  for (let s = 0; s < 320; s += 10) {
    time.advance(10_000);
    await flush(2);
  }
  assert.deepEqual(restarts, [], 'no restart within 320 s of silence');
  time.advance(120_000);
  await flush();
  assert.equal(restarts.length, 1);
  assert.match(restarts[0]!, /no watch event for \d+ ms/);
  time.advance(2_000);
  await flush();
  inf.stop();
  assert.equal(calls.lists.length, 1, 'the watch resumes from its RV, without a list');
  assert.equal(calls.watches.at(-1)!.resourceVersion, '5');
});

test('a re-list after a failure reports what changed meanwhile: updates, additions and deletions; nothing for the unchanged', async () => {
  const time = manualTime();
  const { api, calls } = scriptedApi(
    [
      { items: [cm('a', '1'), cm('b', '1'), cm('c', '1')], rv: '3' },
      { items: [cm('a', '1'), cm('b', '2'), cm('d', '1')], rv: '9' },
    ],
    [new KubeApiError(500, 'internal error', 'InternalError'), 'hang'],
  );
  const { inf, events } = informer(api, time);
  inf.start();
  await flush();
  assert.deepEqual(events, ['added a@1', 'added b@1', 'added c@1']);
  time.advance(1200); // past the first backoff
  await flush();
  inf.stop();
  assert.equal(calls.lists.length, 2);
  assert.equal(calls.lists[1]!.resourceVersion, '3');
  assert.deepEqual(events.slice(3), ['updated b@2', 'added d@1', 'deleted c@1']);
  assert.deepEqual([...inf.store.keys()].sort(), ['ns/a', 'ns/b', 'ns/d']);
});

test('a failing list backs off (jittered) up to the cap and never spins', async () => {
  const time = manualTime();
  const { api, calls } = scriptedApi([new TypeError('fetch failed')], ['hang']);
  const { inf, restarts } = informer(api, time);
  inf.start();
  await flush();
  for (let s = 0; s < 600; s++) {
    time.advance(1000);
    await flush(2);
  }
  inf.stop();
  // 1.2, 2.4, 4.8, 9.6, 19.2, 38.4, then 45 s each (30 s cap x 1.5): about 18 lists in 10 minutes.
  assert.ok(calls.lists.length >= 14 && calls.lists.length <= 20, `${calls.lists.length} lists in 10 min`);
  assert.equal(restarts.length, calls.lists.length);
  assert.equal(inf.synced, false);
});

test('watch lines split across chunks parse into events; an over-long line fails', async () => {
  const enc = new TextEncoder();
  async function* chunks(parts: string[]) {
    for (const p of parts) yield enc.encode(p);
  }
  const events = [];
  for await (const e of readWatchLines(
    chunks(['{"type":"ADDED","obj', 'ect":{"a":1}}\n{"type":"BOOK', 'MARK","object":{}}\n']),
    1024,
  ))
    events.push(e);
  assert.deepEqual(events, [
    { type: 'ADDED', object: { a: 1 } },
    { type: 'BOOKMARK', object: {} },
  ]);
  await assert.rejects(async () => {
    for await (const _ of readWatchLines(chunks(['{"type":"ADDED",', '"object":"' + 'x'.repeat(2000)]), 1024)) void _;
  }, /longer than 1024 bytes/);
});

test('a protobuf body it cannot decode: the informer backs off once, then reads JSON for good (list and watch)', async () => {
  const decode = (): KubeObject => ({ metadata: { name: 'never' } });
  for (const failing of ['list', 'watch'] as const) {
    const asked: string[] = [];
    const undecodable = new ProtobufError('field 2: wire type 7');
    const api: ListWatchApi = {
      async list<T extends KubeObject>(_p: string, _q: unknown, options?: { protobuf?: unknown }) {
        asked.push(`list ${options?.protobuf === undefined ? 'json' : 'protobuf'}`);
        if (failing === 'list' && options?.protobuf !== undefined) throw undecodable;
        return { items: [cm('a', '1') as T], resourceVersion: '1' };
      },
      async *watch(_p, _q, signal, options) {
        asked.push(`watch ${options?.protobuf === undefined ? 'json' : 'protobuf'}`);
        if (failing === 'watch' && options?.protobuf !== undefined) throw undecodable;
        yield { type: 'MODIFIED', object: cm('a', '2') };
        await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
      },
    };
    const { inf, restarts, events, time } = informer(api, manualTime(), { protobuf: decode });
    inf.start();
    await flush();
    time.advance(2000); // the backoff after the one failure (0.8 s x 1.5)
    await flush();
    inf.stop();
    assert.equal(restarts.length, 1, failing);
    assert.match(restarts[0]!, /wire type 7/);
    assert.deepEqual(events, ['added a@1', 'updated a@2'], failing);
    assert.deepEqual(
      asked,
      failing === 'list'
        ? ['list protobuf', 'list json', 'watch json']
        : ['list protobuf', 'watch protobuf', 'watch json'],
    );
  }
});
