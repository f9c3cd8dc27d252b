import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { manualTime as manualTimers } from '../../test/support/manual-time.ts';
import { WorkQueue } from './work-queue.ts';

test('a key is queued once however often it is added', async () => {
  const q = new WorkQueue(manualTimers().timers);
  q.add('a');
  q.add('a');
  q.add('b');
  assert.equal(q.depth, 2);
  assert.equal(await q.get(), 'a');
  assert.equal(await q.get(), 'b');
});

test('a key added while in process is processed again after done, never concurrently', async () => {
  const q = new WorkQueue(manualTimers().timers);
  q.add('a');
  const first = await q.get();
  q.add('a');
  assert.equal(q.depth, 0, 'not handed to a second worker');
  q.done(first!);
  assert.equal(await q.get(), 'a');
});

test('failures back off exponentially per key; forget resets', async () => {
  const clock = manualTimers();
  const q = new WorkQueue(clock.timers, { baseDelayMs: 10, maxDelayMs: 100 });
  assert.deepEqual(
    [q.addRateLimited('a'), q.addRateLimited('a'), q.addRateLimited('a'), q.addRateLimited('a'), q.addRateLimited('a')],
    [10, 20, 40, 80, 100],
  );
  assert.equal(q.depth, 0);
  clock.advance(10);
  assert.equal(q.depth, 1);
  q.forget('a');
  assert.equal(q.addRateLimited('a'), 10);
});

test('a Retry-After longer than the backoff wins; a shorter one does not shorten it', () => {
  const clock = manualTimers();
  const q = new WorkQueue(clock.timers, { baseDelayMs: 10, maxDelayMs: 100 });
  assert.equal(q.addRateLimited('a', 5000), 5000);
  assert.equal(q.addRateLimited('b', 1), 10);
});

test('a worker waiting for a key leaves when its lifetime ends, and is handed nothing later', async () => {
  const q = new WorkQueue(manualTimers().timers);
  const life = new AbortController();
  const waiting = q.get(life.signal);
  assert.equal(q.waiting, 1);
  life.abort();
  assert.equal(await waiting, undefined);
  assert.equal(q.waiting, 0);
  q.add('a');
  assert.equal(q.depth, 1, 'the key waits for a live worker');
  assert.equal(await q.get(life.signal), undefined, 'an ended lifetime takes nothing');
  assert.equal(await q.get(), 'a');
});

test('addAfter coalesces a burst into one run', () => {
  const clock = manualTimers();
  const q = new WorkQueue(clock.timers);
  for (let i = 0; i < 50; i++) q.addAfter('pool', 100);
  clock.advance(100);
  assert.equal(q.depth, 1);
});

test('with a clock, an earlier deadline replaces a later one (a lagging pool is not left to a 30 s resync)', () => {
  const time = manualTimers();
  const q = new WorkQueue(time.timers, { now: time.clock.now });
  q.addAfter('pool', 30_000);
  q.addAfter('pool', 1000);
  q.addAfter('pool', 5000);
  time.advance(1000);
  assert.equal(q.depth, 1);
  assert.equal(time.pending, 0, 'the 30 s timer was cancelled');
});

test('shutDown wakes waiting workers with undefined', async () => {
  const q = new WorkQueue(manualTimers().timers);
  const waiting = q.get();
  q.shutDown();
  assert.equal(await waiting, undefined);
});

describe('metrics', () => {
  function observed() {
    const time = manualTimers();
    const seen = { waited: [] as number[], worked: [] as number[], retries: 0 };
    const q = new WorkQueue(time.timers, {
      baseDelayMs: 10,
      now: time.clock.now,
      observer: {
        waited: (s) => seen.waited.push(s),
        worked: (s) => seen.worked.push(s),
        retried: () => seen.retries++,
      },
    });
    return { time, seen, q };
  }

  test('queue latency is the wait from add to a worker taking the key; work time is get to done', async () => {
    const { time, seen, q } = observed();
    q.add('a');
    time.advance(1500);
    q.add('b');
    time.advance(500);
    assert.equal(await q.get(), 'a');
    time.advance(250);
    q.done('a');
    assert.equal(await q.get(), 'b');
    q.done('b');
    assert.deepEqual(seen.waited, [2, 0.75], 'b waited from 1.5 s to 2.25 s');
    assert.deepEqual(seen.worked, [0.25, 0]);
  });

  test('a key handed to a waiting worker waited 0 s; a delayed key waits from when its delay ends', async () => {
    const { time, seen, q } = observed();
    const waiting = q.get();
    q.add('a');
    assert.equal(await waiting, 'a');
    q.addAfter('b', 1000);
    time.advance(1000);
    time.advance(300);
    assert.equal(await q.get(), 'b');
    assert.deepEqual(seen.waited, [0, 0.3]);
  });

  test('a key added while in process waits from that add, as client-go counts it', async () => {
    const { time, seen, q } = observed();
    q.add('a');
    assert.equal(await q.get(), 'a');
    time.advance(1000);
    q.add('a'); // an event while the key is reconciled
    time.advance(4000);
    q.done('a');
    time.advance(500);
    assert.equal(await q.get(), 'a');
    assert.deepEqual(seen.waited, [0, 4.5]);
  });

  test('each re-queue after a failure is a retry; a key added while in process is no retry', async () => {
    const { seen, q } = observed();
    q.add('a');
    const key = await q.get();
    q.add('a');
    q.addRateLimited(key!);
    q.addRateLimited(key!);
    q.done(key!);
    assert.equal(seen.retries, 2);
  });
});
