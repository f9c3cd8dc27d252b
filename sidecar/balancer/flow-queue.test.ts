/** The queue's order and bounds, as a plain data structure: no timers, no promises. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FlowQueue, type Waiting } from './flow-queue.ts';

interface Call extends Waiting {
  readonly id: string;
}

let order = 0;
function call(id: string, priority = 0, tenant = 't'): Call {
  return { id, priority, tenant, order: ++order };
}

function drain(q: FlowQueue<Call>): string[] {
  const out: string[] = [];
  for (let c = q.take(); c !== undefined; c = q.take()) out.push(c.id);
  return out;
}

describe('flow queue', () => {
  test('highest priority first, first come first served within one tenant', () => {
    const q = new FlowQueue<Call>(10);
    for (const c of [call('d1'), call('h1', 5), call('d2'), call('h2', 5), call('top', 9)]) q.offer(c);
    assert.deepEqual(drain(q), ['top', 'h1', 'h2', 'd1', 'd2']);
  });

  test("round-robin across tenants within a priority: one tenant's batch does not starve another's calls", () => {
    const q = new FlowQueue<Call>(100);
    for (let i = 1; i <= 5; i++) q.offer(call(`batch${i}`, 0, 'batch'));
    q.offer(call('search1', 0, 'search'));
    q.offer(call('search2', 0, 'search'));
    assert.deepEqual(drain(q).slice(0, 5), ['batch1', 'search1', 'batch2', 'search2', 'batch3']);
  });

  test('a tenant that arrives late waits at most one turn per other tenant', () => {
    const q = new FlowQueue<Call>(100);
    for (const t of ['a', 'b', 'c']) for (let i = 1; i <= 3; i++) q.offer(call(`${t}${i}`, 0, t));
    assert.equal(q.take()!.id, 'a1');
    q.offer(call('late1', 0, 'late'));
    const next = drain(q);
    assert.ok(next.indexOf('late1') <= 3, next.join(' '));
    assert.deepEqual(
      next.filter((id) => id.startsWith('a')),
      ['a2', 'a3'],
    );
  });

  test('full: a newcomer of higher priority displaces the newest of the lowest priority; an equal one is refused', () => {
    const q = new FlowQueue<Call>(3);
    q.offer(call('low-old', 0));
    q.offer(call('mid', 3));
    q.offer(call('low-new', 0));
    const equal = q.offer(call('another-low', 0));
    assert.equal(equal.queued, false);
    const high = q.offer(call('high', 7));
    assert.ok(high.queued);
    assert.equal(high.displaced?.id, 'low-new');
    assert.equal(q.length, 3);
    assert.deepEqual(drain(q), ['high', 'mid', 'low-old']);
  });

  test('length 0: every call is refused', () => {
    const q = new FlowQueue<Call>(0);
    assert.equal(q.offer(call('x', 100)).queued, false);
  });

  test('a waiter removed (timed out, cancelled) leaves the order of the others intact', () => {
    const q = new FlowQueue<Call>(10);
    const calls = [call('a1', 0, 'a'), call('b1', 0, 'b'), call('a2', 0, 'a'), call('b2', 0, 'b')];
    for (const c of calls) q.offer(c);
    assert.ok(q.remove(calls[1]!));
    assert.equal(q.remove(calls[1]!), false);
    assert.deepEqual(drain(q), ['a1', 'b2', 'a2']);
    assert.equal(q.length, 0);
    assert.equal(q.topPriority, Number.NEGATIVE_INFINITY);
  });

  test('sizes by priority, highest first', () => {
    const q = new FlowQueue<Call>(10);
    for (const c of [call('a', 0), call('b', 2), call('c', 0)]) q.offer(c);
    assert.deepEqual(q.sizes(), [
      { priority: 2, waiting: 1 },
      { priority: 0, waiting: 2 },
    ]);
  });
});
