/**
 * The informer against a scripted list/watch API on a manual clock: clean watch ends resume
 * without a restart, only failures count, a silent watch is aborted by the watchdog only after
 * the server's bookmark interval, a 410 re-lists, a re-list reports what changed while
 * disconnected (deletions included), and restarts back off exponentially up to a cap.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createLogger } from '../common/logger.ts';
import { manualTime } from '../test/support/manual-time.ts';
import type { KubeObject, ObjectList, WatchEvent } from './api.ts';
import { Informer, type ListWatchApi } from './informer.ts';
import { readWatchLines } from './watch-lines.ts';

type Step = WatchEvent[] | 'hang' | Error;

/** Each watch call plays the next script step: events then a clean end, a hang until aborted, or an error. */
function scriptedApi(items: KubeObject[], steps: Step[]) {
  const calls = { list: 0, watch: [] as (string | undefined)[] };
  const api: ListWatchApi = {
    async list<T extends KubeObject>(): Promise<ObjectList<T>> {
      calls.list++;
      return { items: items as T[], resourceVersion: `list-${calls.list}` };
    },
    async *watch(_path, query, signal) {
      calls.watch.push(query.resourceVersion);
      const step = steps.shift() ?? 'hang';
      if (step instanceof Error) throw step;
      if (step === 'hang') {
        await new Promise((_resolve, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true }));
        return;
      }
      yield* step;
    },
  };
  return { api, calls };
}

const cm = (name: string, rv: string): KubeObject => ({ metadata: { name, namespace: 'ns', resourceVersion: rv } });
const flush = () => new Promise((r) => setImmediate(r));

function informer(api: ListWatchApi, time = manualTime(), backoff: { backoffBaseMs?: number; backoffMaxMs?: number } = {}) {
  const restarts: string[] = [];
  const events: string[] = [];
  const inf = new Informer<KubeObject>(api, {
    ...backoff,
    name: 'configmaps',
    path: '/api/v1/configmaps',
    onEvent: (event, object) => events.push(`${event} ${object.metadata.name}@${object.metadata.resourceVersion}`),
    onRestart: (reason) => restarts.push(reason),
    logger: createLogger('silent'),
    timers: time.timers,
    clock: time.clock,
    random: () => 0.5,
  });
  return { inf, restarts, events, time };
}

test('a watch the server ends cleanly resumes from the last resourceVersion, without a restart', async () => {
  const { api, calls } = scriptedApi([cm('a', '1')], [[{ type: 'BOOKMARK', object: { metadata: { resourceVersion: '7' } } }], [{ type: 'MODIFIED', object: cm('a', '9') }]]);
  const { inf, restarts } = informer(api);
  inf.start();
  for (let i = 0; i < 10; i++) await flush();
  inf.stop();
  assert.deepEqual(calls.watch.slice(0, 3), ['list-1', '7', '9']);
  assert.equal(calls.list, 1);
  assert.deepEqual(restarts, []);
  assert.equal(inf.store.get('ns/a')?.metadata.resourceVersion, '9');
});

test('a quiet watch is not restarted before the server\'s own timeout (300 s) + 30 s; a dead one is, then', async () => {
  // kube-apiserver 1.34 sent the first bookmark on a quiet watch after 120 s: no client timer
  // may be shorter than the watch's server-side timeout.
  const time = manualTime();
  const { api } = scriptedApi([], ['hang']);
  const { inf, restarts } = informer(api, time);
  inf.start();
  await flush();
  for (let s = 0; s < 320; s += 10) {
    time.advance(10_000);
    await flush();
  }
  assert.deepEqual(restarts, [], 'no restart within 320 s of silence');
  time.advance(120_000);
  for (let i = 0; i < 5; i++) await flush();
  assert.equal(restarts.length, 1);
  assert.match(restarts[0]!, /no watch activity for 330000 ms/);
  inf.stop();
});

test('an ERROR 410 re-lists; an HTTP failure counts as a restart', async () => {
  const time = manualTime();
  const { api, calls } = scriptedApi([cm('a', '1')], [[{ type: 'ERROR', object: { code: 410, metadata: {} } }], new Error('connect ECONNREFUSED')]);
  const { inf, restarts } = informer(api, time);
  inf.start();
  for (let i = 0; i < 5; i++) await flush();
  time.advance(1000);
  for (let i = 0; i < 5; i++) await flush();
  time.advance(1000);
  for (let i = 0; i < 5; i++) await flush();
  inf.stop();
  assert.deepEqual(restarts, ['resourceVersion too old (410 Gone)', 'connect ECONNREFUSED']);
  assert.equal(calls.list, 3);
});

test('watch lines split across chunks parse into events; an over-long line fails', async () => {
  const enc = new TextEncoder();
  async function* chunks(parts: string[]) {
    for (const p of parts) yield enc.encode(p);
  }
  const events = [];
  for await (const e of readWatchLines(chunks(['{"type":"ADDED","obj', 'ect":{"a":1}}\n{"type":"BOOK', 'MARK","object":{}}\n']), 1024)) events.push(e);
  assert.deepEqual(events, [{ type: 'ADDED', object: { a: 1 } }, { type: 'BOOKMARK', object: {} }]);
  await assert.rejects(async () => {
    for await (const _ of readWatchLines(chunks(['{"type":"ADDED",', '"object":"' + 'x'.repeat(2000)]), 1024)) void _;
  }, /longer than 1024 bytes/);
});

/** A list that plays its script (items, or an error), then repeats its last entry; watches fail or hang. */
function listScriptedApi(lists: (KubeObject[] | Error)[], watches: ('fail' | 'hang')[]) {
  const calls = { list: 0 };
  const api: ListWatchApi = {
    async list<T extends KubeObject>(): Promise<ObjectList<T>> {
      const step = lists[Math.min(calls.list, lists.length - 1)]!;
      calls.list++;
      if (step instanceof Error) throw step;
      return { items: step as T[], resourceVersion: `list-${calls.list}` };
    },
    async *watch(_path, _query, signal) {
      if (watches.shift() === 'fail') throw new Error('connect ECONNRESET');
      await new Promise((_resolve, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true }));
      yield* [];
    },
  };
  return { api, calls };
}

test('a re-list after a failure reports what changed meanwhile: updates, additions and deletions; nothing for the unchanged', async () => {
  const time = manualTime();
  const { api, calls } = listScriptedApi([[cm('a', '1'), cm('b', '1'), cm('c', '1')], [cm('a', '1'), cm('b', '2'), cm('d', '1')]], ['fail', 'hang']);
  const { inf, events } = informer(api, time);
  inf.start();
  for (let i = 0; i < 5; i++) await flush();
  assert.deepEqual(events, ['added a@1', 'added b@1', 'added c@1']);
  time.advance(1000); // past the first backoff
  for (let i = 0; i < 5; i++) await flush();
  inf.stop();
  assert.equal(calls.list, 2);
  assert.deepEqual(events.slice(3), ['updated b@2', 'added d@1', 'deleted c@1']);
  assert.deepEqual([...inf.store.keys()].sort(), ['ns/a', 'ns/b', 'ns/d']);
});

test('failures back off exponentially (jittered) up to the cap; a successful list starts over from the base', async () => {
  const time = manualTime();
  const down = new Error('connect ECONNREFUSED');
  // random 0.5: each delay is 75% of base x 2^k; base 100 ms, cap 400 ms.
  const { api, calls } = listScriptedApi([down, down, down, down, [cm('a', '1')]], ['fail', 'hang']);
  const { inf, restarts } = informer(api, time, { backoffBaseMs: 100, backoffMaxMs: 400 });
  inf.start();
  for (let i = 0; i < 3; i++) await flush();
  assert.equal(calls.list, 1);
  // list fails 4 times (75, 150, 300, 300 ms), succeeds; the watch fails: the base again (75 ms).
  for (const delay of [75, 150, 300, 300, 75]) {
    const before: number = calls.list;
    time.advance(delay - 1);
    for (let i = 0; i < 3; i++) await flush();
    assert.equal(calls.list, before, `not before ${delay} ms`);
    time.advance(1);
    for (let i = 0; i < 3; i++) await flush();
    assert.equal(calls.list, before + 1, `after ${delay} ms`);
  }
  inf.stop();
  assert.equal(restarts.length, 5);
  assert.equal(inf.restarts, 5);
});
