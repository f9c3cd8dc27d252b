/** max_parallel_requests as a concurrency lease, on a manual clock. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { leaseTiming } from './lease-timing.ts';
import { SlotLedger } from './slot-ledger.ts';

const timing = leaseTiming();
const T0 = 1_000_000;

test('shared: calls in flight stay under the slots Redis granted; a renewal asks for the peak + 1', () => {
  const l = new SlotLedger(10, 4, timing, T0);
  assert.equal(l.hasRoom(T0 + 10, 0), false, 'nothing before Redis answers (start-up grace)');
  l.renewRequest(T0, 0);
  l.onReply(T0 + 1, 3);
  assert.equal(l.hasRoom(T0 + 2, 2), true);
  assert.equal(l.hasRoom(T0 + 2, 3), false);
  l.observe(3);
  l.noteUnmet();
  assert.deepEqual(l.renewRequest(T0 + 10, 3), { want: 5, inFlight: 3 });
});

test('Redis silent for 1 s: the static share, but for the slot expiry no more than it held (the others may still hold theirs)', () => {
  const l = new SlotLedger(12, 4, timing, T0);
  l.renewRequest(T0, 0);
  l.onReply(T0 + 1, 2);
  assert.equal(l.tick(T0 + 1002), 'static');
  assert.equal(l.staticShare(T0 + 1002), 2, 'min(floor(12 / 4), held 2)');
  assert.equal(l.staticShare(T0 + 1002 + timing.slotExpiryMs), 3, 'their leases expired too: floor(12 / 4)');
  l.renewRequest(T0 + 5000, 0);
  assert.equal(l.onReply(T0 + 5001, 4), 'shared');
});

test('a sidecar that never reached Redis takes floor(limit / sidecars) after the grace: 4 x 2 <= 10, where ceil would allow 12', () => {
  const l = new SlotLedger(10, 4, timing, T0);
  assert.equal(l.staticShare(T0 + 999), 0);
  assert.equal(l.staticShare(T0 + 1000), 2);
});
