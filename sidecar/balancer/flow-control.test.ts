/**
 * Flow control's async wiring on a manual clock: waits end when a slot frees (no polling), at
 * queue_timeout or the call's deadline, when the caller goes away, or when a rate limit's window
 * leaves room; sheddable calls are never queued; tenants are capped and limited.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ManualTime } from '../../common/manual-time.ts';
import type { FlowSettings } from '../config/model.ts';
import { LbError } from '../errors.ts';
import {
  FlowControl,
  OVERFLOW_TENANT,
  type CapacityProbe,
  type PriorityBucket,
  type WaitOutcome,
} from './flow-control.ts';

const SETTINGS: FlowSettings = {
  queueTimeoutMs: 1000,
  queueMaxLength: 10,
  maxTenants: 3,
  tenantMaxInFlight: undefined,
  saturationQueue: undefined,
};

/** A fleet with `free` slots; `roomInMs` when only a rate limit's window holds calls back. */
class Slots implements CapacityProbe {
  free = 0;
  roomInMs = Number.POSITIVE_INFINITY;
  canAdmit(): boolean {
    return this.free > 0;
  }
  msUntilRoom(): number {
    return this.roomInMs;
  }
}

function setup(settings: Partial<FlowSettings> = {}) {
  const time = new ManualTime();
  const slots = new Slots();
  const seen: [PriorityBucket, WaitOutcome, number][] = [];
  const flow = new FlowControl(
    { ...SETTINGS, ...settings },
    { clock: time, timers: time, probe: slots, observer: { waited: (b, o, s) => seen.push([b, o, s]) } },
  );
  /** What happened to each call, in the order it happened. */
  const log: string[] = [];
  const wait = (id: string, priority = 0, tenant = 't', deadline = Number.POSITIVE_INFINITY, signal?: AbortSignal) =>
    flow.wait(priority, tenant, 1, flow.waitUntil(deadline), signal).then((outcome) => {
      log.push(`${id}:${outcome}`);
      // An admitted call takes its slot, then lets the next one in (as the balancer does).
      if (outcome === 'admitted') {
        slots.free--;
        flow.afterAdmitted();
      }
      return outcome;
    });
  return { time, slots, flow, log, wait, seen };
}

const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('flow control', () => {
  test('a freed slot admits exactly one waiter, the highest priority first', async () => {
    const { slots, flow, log, wait } = setup();
    void wait('low', 0);
    void wait('high', 5);
    void wait('low2', 0);
    await settle();
    assert.deepEqual(log, []);
    slots.free = 1;
    flow.released();
    await settle();
    assert.deepEqual(log, ['high:admitted']);
    slots.free = 2;
    flow.released();
    await settle();
    assert.deepEqual(log, ['high:admitted', 'low:admitted', 'low2:admitted']);
  });

  test('nothing frees: the wait ends at queue_timeout, and no sooner', async () => {
    const { time, log, wait, seen } = setup();
    void wait('a');
    time.advance(999);
    await settle();
    assert.deepEqual(log, []);
    time.advance(1);
    await settle();
    assert.deepEqual(log, ['a:timeout']);
    assert.deepEqual(seen, [['default', 'timeout', 1]]);
  });

  test("the call's own deadline cuts the wait short", async () => {
    const { time, log, wait } = setup();
    void wait('a', 0, 't', time.now() + 300);
    time.advance(300);
    await settle();
    assert.deepEqual(log, ['a:timeout']);
  });

  test('sheddable calls are never queued; when the queue is full the newest lowest-priority waiter makes room', async () => {
    const { log, wait } = setup({ queueMaxLength: 2 });
    void wait('shed', -1);
    void wait('d1');
    void wait('d2');
    void wait('d3');
    void wait('vip', 9);
    await settle();
    assert.deepEqual(log, ['shed:shed', 'd3:full', 'd2:displaced']);
  });

  test('a caller that goes away leaves the queue at once', async () => {
    const { flow, log, wait } = setup();
    const controller = new AbortController();
    void wait('gone', 0, 't', Number.POSITIVE_INFINITY, controller.signal);
    await settle();
    controller.abort();
    await settle();
    assert.deepEqual(log, ['gone:cancelled']);
    assert.equal(flow.waiting, 0);
  });

  test('a rate limit: waiters wake when its window leaves room, without a release', async () => {
    const { time, slots, log, wait } = setup();
    slots.roomInMs = 400;
    void wait('a');
    await settle();
    time.advance(399);
    await settle();
    assert.deepEqual(log, []);
    slots.free = 1;
    slots.roomInMs = Number.POSITIVE_INFINITY;
    time.advance(1);
    await settle();
    assert.deepEqual(log, ['a:admitted']);
  });

  test('a newcomer goes behind waiters of its priority or higher, ahead of lower ones', async () => {
    const { flow, wait } = setup();
    void wait('a', 2);
    await settle();
    assert.equal(flow.mustWait(2), true);
    assert.equal(flow.mustWait(1), true);
    assert.equal(flow.mustWait(3), false);
  });

  test('closing refuses every waiter with a timeout (a 429 the caller may retry), none is left hanging', async () => {
    const { flow, log, wait } = setup();
    void wait('a');
    void wait('b', 3);
    await settle();
    flow.close();
    await settle();
    assert.deepEqual(log.sort(), ['a:timeout', 'b:timeout']);
    assert.equal(flow.waiting, 0);
  });

  test('tenants: at most max_tenants tracked, the rest share one; tenant_max_in_flight refuses with 429 naming the header', () => {
    const { flow } = setup({ maxTenants: 2, tenantMaxInFlight: 2 });
    assert.equal(flow.enterTenant('a'), 'a');
    assert.equal(flow.enterTenant('b'), 'b');
    assert.equal(flow.enterTenant('c'), OVERFLOW_TENANT);
    assert.equal(flow.enterTenant('d'), OVERFLOW_TENANT);
    assert.throws(
      () => flow.enterTenant('e'),
      (error: unknown) =>
        error instanceof LbError &&
        error.status === 429 &&
        error.field === 'x-reranker-tenant' &&
        error.retryAfterSeconds === 1,
    );
    flow.enterTenant('a');
    assert.throws(() => flow.enterTenant('a'), LbError);
    flow.leaveTenant('a');
    assert.equal(flow.enterTenant('a'), 'a');
    flow.leaveTenant('b');
    assert.equal(flow.enterTenant('new'), 'new', 'a tenant that left frees its place');
  });
});
