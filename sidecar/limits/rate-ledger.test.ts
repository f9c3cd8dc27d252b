/** The lease arithmetic of one pool-wide rate limit, on a manual clock (no Redis, no timers). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { countedMs, leaseTiming } from './lease-timing.ts';
import { RateLedger, type RenewReply } from './rate-ledger.ts';

const timing = leaseTiming(60_000); // lease 1000 ms, renew 250 ms, slice 500 ms
const T0 = 1_000_000;

function reply(grant: number, serverMs: number, extra: Partial<RenewReply> = {}): RenewReply {
  return {
    grant,
    slice: Math.floor(serverMs / timing.sliceMs),
    serverMs,
    born: 0,
    promise: 0,
    hist: [],
    ...extra,
  };
}

/** A ledger that reached Redis once, at T0, with `grant` units; the pool had been granted `poolUsed` before. */
function sharedLedger(limit = 120, sidecars = 4, grant = 10, poolUsed = 0): RateLedger {
  const l = new RateLedger(limit, sidecars, timing, T0);
  l.renewRequest(T0);
  const hist = poolUsed > 0 ? [Math.floor(5_000_000 / timing.sliceMs), poolUsed] : [];
  assert.equal(l.onReply(T0, T0 + 1, reply(grant, 5_000_000, { hist })), 'shared');
  return l;
}

function spendAll(l: RateLedger, now: number, max = 1000): number {
  let n = 0;
  while (n < max && l.hasRoom(now, 1)) {
    l.spend(now, 1);
    n++;
  }
  return n;
}

test('a new sidecar spends nothing until Redis answers, and on its static share after 1 s of silence', () => {
  const l = new RateLedger(120, 4, timing, T0);
  assert.equal(l.hasRoom(T0 + 500, 1), false);
  assert.equal(spendAll(l, T0 + 1001), 30);
});

test('calls spend the lease only: no room once it is used, until a renewal grants more', () => {
  const l = sharedLedger(120, 4, 10);
  assert.equal(spendAll(l, T0 + 10), 10);
  const r = l.renewRequest(T0 + 260);
  assert.ok(r.want > 0, 'the renewal asks for the demand it saw');
  l.onReply(T0 + 260, T0 + 261, reply(5, 5_000_260));
  assert.equal(spendAll(l, T0 + 262), 5);
});

test('a lease expires leaseMs after its renewal was sent; its unused units go back at the next renewal', () => {
  const l = sharedLedger(120, 4, 10);
  l.spend(T0 + 10, 1);
  l.spend(T0 + 10, 1);
  assert.equal(l.hasRoom(T0 + 999, 1), true);
  assert.equal(l.hasRoom(T0 + 1000, 1), false, 'expired');
  const r = l.renewRequest(T0 + 1000);
  assert.deepEqual(r.refunds, [Math.floor(5_000_000 / timing.sliceMs), 8]);
});

test('the lease is sized to recent demand', () => {
  const l = sharedLedger(10_000, 4, 100, 6000);
  for (let t = 0; t < 2000; t += 10) l.spend(T0 + t, 1); // 100 calls a second
  const r = l.renewRequest(T0 + 2000);
  // At least (lease 1000 + renew 250 ms) of 100 calls a second; not much more.
  assert.ok(r.want >= 125 && r.want <= 160, `want ${r.want}`);
  assert.equal(r.need, r.want, 'all of it is demand: granted while the window has room');
  assert.equal(r.minFree, 0);
});

test('far from the limit a lease also covers a burst: limit / sidecars / 8, only while half the window stays free; the demand is its need', () => {
  const l = sharedLedger(10_000_000, 4, 1);
  l.spend(T0 + 10, 1);
  const r = l.renewRequest(T0 + 250);
  assert.equal(r.want, 312_500, 'a sidecar going from idle to 1,000 calls/s is not refused while its leases catch up');
  assert.ok(r.need >= 1 && r.need < 10, `need ${r.need}: what its demand alone asks`);
  assert.equal(r.minFree, 5_000_000);
  // Past half the window (as of the last reply): only the demand, nothing held back.
  const near = sharedLedger(120, 4, 1, 70);
  near.spend(T0 + 10, 1);
  const n = near.renewRequest(T0 + 250);
  assert.equal(n.want, n.need);
  assert.ok(n.want < 4, `want ${n.want}`);
});

test("a settling sidecar's promise covers the others' idle burst leases, two renewals each (Redis grants the others no more until it renews)", () => {
  for (const [limit, sidecars] of [
    [1_000_000, 4],
    [100_000_000, 4],
    [600, 4],
    [6_000, 50],
    [120, 4],
    [100_000_000, 1000],
  ] as const) {
    const idle = sharedLedger(limit, sidecars, 0);
    const burst = idle.renewRequest(T0 + 50);
    assert.ok(
      burst.minFree > 0 && burst.want > 0,
      `${limit}/${sidecars}: an idle sidecar far from the limit asks for a burst`,
    );
    const settling = sharedLedger(limit, sidecars, 0);
    settling.onFailure(T0 + 500);
    assert.equal(settling.tick(T0 + 1_100), 'static');
    settling.renewRequest(T0 + 1_100);
    settling.onReply(T0 + 1_100, T0 + 1_101, reply(0, 5_001_100));
    const r = settling.renewRequest(T0 + 1_850);
    assert.equal(r.promiseShare, 0, 'settling');
    assert.ok(
      2 * (sidecars - 1) * burst.want <= r.promiseFloor,
      `${limit}/${sidecars}: bursts of ${burst.want} from ${sidecars - 1} sidecars, twice, exceed a settling sidecar's promise of ${r.promiseFloor}: Redis grants some of them nothing`,
    );
  }
});

test('calls refused for want of a lease count as demand: the next lease covers them', () => {
  const l = sharedLedger(100_000, 4, 1);
  l.spend(T0 + 1, 1);
  for (let i = 0; i < 100; i++) l.noteUnmet(T0 + 10 + i, 1);
  const r = l.renewRequest(T0 + 250);
  assert.ok(r.want >= 60, `want ${r.want}`);
});

test('an idle sidecar asks for a floor of one call, and only while the pool keeps 10% free', () => {
  const l = sharedLedger(120, 4, 0, 70);
  const r = l.renewRequest(T0 + 5000);
  assert.equal(r.want, 1);
  assert.equal(r.need, 0);
  assert.equal(r.minFree, 12);
});

test('tpm: a backend reporting more tokens than estimated is charged at the next renewal', () => {
  const l = sharedLedger(100_000, 4, 1000);
  l.spend(T0 + 10, 800);
  l.correct(T0 + 20, 700); // 1500 used: 500 beyond the lease
  assert.equal(l.hasRoom(T0 + 21, 1), false);
  const r = l.renewRequest(T0 + 260);
  assert.equal(r.charge, 500);
  // Fewer tokens than estimated come back to the lease.
  const m = sharedLedger(100_000, 4, 1000);
  m.spend(T0 + 10, 800);
  m.correct(T0 + 20, -300);
  assert.equal(m.held(T0 + 21), 500);
});

test('a renewal that failed is sent again with its charge but not its refunds (a timed-out one may still run)', () => {
  const l = sharedLedger(100_000, 4, 1000);
  l.spend(T0 + 10, 400);
  l.correct(T0 + 20, 700); // 100 owed
  const first = l.renewRequest(T0 + 1000); // the lease expired: 0 left to refund
  assert.equal(first.charge, 100);
  l.onFailure(T0);
  const m = sharedLedger(100_000, 4, 1000);
  m.spend(T0 + 10, 400);
  const sent = m.renewRequest(T0 + 1000);
  assert.deepEqual(sent.refunds.slice(1), [600]);
  m.onFailure(T0);
  const again = m.renewRequest(T0 + 1300);
  assert.deepEqual(again.refunds, []);
});

test('failed renewals keep the valid lease; 1 s without a success (errors or silence) falls back to the static share', () => {
  const a = sharedLedger(120, 4, 10);
  a.renewRequest(T0 + 250);
  a.onFailure(T0);
  assert.equal(a.mode, 'shared');
  assert.equal(spendAll(a, T0 + 300), 10, 'what Redis granted is still ours to spend');
  assert.equal(a.tick(T0 + 1000), undefined);
  assert.equal(a.tick(T0 + 1002), 'static');
  assert.equal(a.mode, 'static');
});

test('on its static share, what the pool had used still counts until it ages out, then floor(limit / sidecars)', () => {
  const l = new RateLedger(120, 4, timing, T0);
  l.renewRequest(T0);
  // The pool had been granted 80 in the slice ending at server 5_000_000 ms.
  const slice = Math.floor(5_000_000 / timing.sliceMs);
  l.onReply(T0, T0 + 1, reply(0, 5_000_000, { hist: [slice, 80] }));
  l.renewRequest(T0 + 250);
  l.onFailure(T0 + 250);
  l.tick(T0 + 1002);
  assert.equal(l.staticShare(T0 + 1100), 10, '(120 - 80) / 4');
  assert.equal(spendAll(l, T0 + 1100), 10);
  const aged = T0 + 1 + timing.sliceMs + countedMs(timing);
  assert.equal(l.staticShare(aged), 30);
});

test('the static share rounds down: the shares never add up past the limit', () => {
  const l = new RateLedger(10, 4, timing, T0);
  assert.equal(spendAll(l, T0 + 1001), 2, 'floor(10 / 4), not ceil: four sidecars spend 8, not 12');
});

test("the static share leaves room for Redis's promise: what the others may have been granted after the last reply", () => {
  const l = new RateLedger(120, 4, timing, T0);
  l.renewRequest(T0);
  const slice = Math.floor(5_000_000 / timing.sliceMs);
  l.onReply(T0, T0 + 1, reply(0, 5_000_000, { hist: [slice, 40], promise: 20 }));
  l.renewRequest(T0 + 250);
  l.onFailure(T0 + 250);
  assert.equal(l.tick(T0 + 1002), 'static');
  assert.equal(l.staticShare(T0 + 1100), 15, '(120 - 40 known - 20 promised) / 4');
  // The others' grants under the promise were made before it lapsed (horizonMs) and count a window after that.
  const lapsed = T0 + 1 + timing.horizonMs + countedMs(timing) + timing.sliceMs;
  assert.equal(l.staticShare(lapsed - 1), 25, 'the 40 known aged out, the promise not yet');
  assert.equal(l.staticShare(lapsed), 30);
});

test('a static call is remembered for the whole window plus the dispatch margin (never a bucket early)', () => {
  const l = new RateLedger(120, 4, timing, T0);
  const start = T0 + 1001;
  assert.equal(spendAll(l, start), 30);
  // A call spent at the very end of the window may reach the backend up to the dispatch margin later.
  const remembered = start + timing.windowMs + timing.dispatchMarginMs;
  assert.equal(l.hasRoom(remembered - 1, 1), false);
  assert.equal(l.hasRoom(remembered + timing.windowMs / 50, 1), true, 'forgotten within about a bucket after that');
});

test('a sidecar whose last answer came long before it saw Redis fail (a stalled event loop) takes no share until what it missed has aged out', () => {
  const l = sharedLedger(120, 4, 10);
  // Nothing for 3 s (stalled), then the first renewal fails.
  const seen = T0 + 3000;
  l.tick(seen);
  l.renewRequest(seen);
  l.onFailure(seen + 1);
  assert.equal(l.mode, 'static');
  assert.equal(l.staticShare(seen + 10), 0);
  assert.equal(l.staticShare(seen + 1 + countedMs(timing) + timing.sliceMs), 30);
  // A renewal that fails within the horizon keeps the share.
  const m = sharedLedger(120, 4, 10);
  m.renewRequest(T0 + 250);
  m.onFailure(T0 + 250 + timing.commandTimeoutMs);
  m.tick(T0 + 1002);
  assert.equal(m.staticShare(T0 + 1100), Math.floor((120 - 10) / 4));
});

test('what a tpm lease owed (spent beyond it) when Redis fails counts against the static share; fewer tokens than estimated do not free it', () => {
  const l = sharedLedger(1000, 4, 100);
  l.spend(T0 + 10, 100);
  l.correct(T0 + 20, 150); // 150 spent beyond the lease
  l.renewRequest(T0 + 250);
  l.onFailure(T0 + 250);
  l.tick(T0 + 1002);
  const share = l.staticShare(T0 + 1100);
  assert.equal(share, Math.floor((1000 - 100) / 4));
  assert.equal(spendAll(l, T0 + 1100), share - 150);
  l.correct(T0 + 1200, -50);
  assert.equal(l.hasRoom(T0 + 1200, 1), false);
});

test('back from static: spends meanwhile are charged; while settling, only leases Redis granted, within the static share; then shared', () => {
  const l = sharedLedger();
  l.renewRequest(T0 + 250);
  l.onFailure(T0 + 250);
  l.tick(T0 + 1002);
  spendAll(l, T0 + 1100, 7);
  const first = l.renewRequest(T0 + 2000);
  assert.equal(first.charge, 7);
  assert.equal(l.onReply(T0 + 2000, T0 + 2001, reply(0, 5_002_000)), undefined);
  assert.equal(l.mode, 'static');
  assert.equal(l.hasRoom(T0 + 2002, 1), false, 'settling: no static spends Redis has not seen');
  for (let i = 0; i < 40; i++) l.noteUnmet(T0 + 2002, 1);
  const settling = l.renewRequest(T0 + 2010);
  assert.equal(settling.promiseShare, 0, 'the fleet already shared draws within a small promise');
  const room = l.staticShare(T0 + 2010) - 7;
  assert.ok(settling.want > 0 && settling.want <= room, `want ${settling.want}, room ${room}`);
  l.onReply(T0 + 2010, T0 + 2011, reply(settling.want, 5_002_010));
  const spent = spendAll(l, T0 + 2012);
  assert.ok(spent > 0 && spent <= settling.want, `spent ${spent} of ${settling.want}`);
  assert.equal(l.hasRoom(T0 + 2012, 1), false);
  l.renewRequest(T0 + 2001 + timing.settleMs);
  assert.equal(l.onReply(T0 + 2001 + timing.settleMs, T0 + 2002 + timing.settleMs, reply(3, 5_003_600)), 'shared');
  assert.equal(l.renewRequest(T0 + 2002 + timing.settleMs).promiseShare, 0.5);
});

test('after Redis lost the grants (restart, flush), every sidecar seeds back what it knew and what was promised, before the new key was born', () => {
  const l = new RateLedger(120, 4, timing, T0);
  l.renewRequest(T0);
  const slice = Math.floor(5_000_000 / timing.sliceMs);
  l.onReply(T0, T0 + 1, reply(0, 5_000_000, { hist: [slice, 90], promise: 15 }));
  l.renewRequest(T0 + 250);
  l.onFailure(T0 + 250);
  // Redis back, restarted 1 s later: a new key.
  const born = Math.floor(5_001_000 / timing.sliceMs);
  l.renewRequest(T0 + 1000);
  l.onReply(T0 + 1000, T0 + 1001, reply(0, 5_001_000, { born }));
  const r = l.renewRequest(T0 + 1250);
  // The promise covers grants until it lapses (horizonMs): counted at the last slice before the new key.
  assert.deepEqual(r.seed, [slice, 90, born - 1, 15]);
  assert.equal(l.mode, 'static', 'settling until every sidecar has seeded');
  assert.equal(l.hasRoom(T0 + 1002, 1), false, "the new key's grant is not spent");
  l.onReply(T0 + 1250, T0 + 1251, reply(0, 5_001_250, { born }));
  assert.deepEqual(l.renewRequest(T0 + 1500).seed, [], 'once');
});

test('an idle sidecar renewing on its own schedule never falls back while Redis answers (its renewal goes out well before 1 s of silence)', () => {
  const l = new RateLedger(120, 4, timing, 0);
  const changes: string[] = [];
  let now = 0;
  for (let i = 0; i < 2000; i++) {
    now += 50 + (i % 7) / 2; // a 50 ms timer, a little late
    const fell = l.tick(now);
    if (fell !== undefined) changes.push(fell);
    if (l.renewDue(now)) {
      l.renewRequest(now);
      // Redis answers within a millisecond.
      const back = l.onReply(now, now + 1, reply(0, 5_000_000 + now));
      if (back !== undefined) changes.push(back);
    }
  }
  assert.deepEqual(changes, ['shared']);
});

test('a new sidecar_count changes the share and keeps the window', () => {
  const l = new RateLedger(120, 4, timing, T0);
  assert.equal(spendAll(l, T0 + 1001), 30);
  l.sidecars = 2;
  assert.equal(spendAll(l, T0 + 1002), 30, 'the 30 already spent still count against the new share of 60');
});

test('an idle lease is replaced before it expires: no gap between a lease and the next', () => {
  const l = sharedLedger(10_000_000, 4, 0);
  const first = l.renewRequest(T0 + 50);
  assert.equal(first.want, 312_500);
  l.onReply(T0 + 50, T0 + 51, reply(312_500, 5_000_050));
  // The next idle renewal comes 750 ms later; this lease ends 1000 ms after it was sent, before the one after.
  const at = T0 + 50 + timing.idleRenewMs;
  const next = l.renewRequest(at);
  assert.equal(next.want, 312_500, 'asks for the next lease while this one still holds');
  l.onReply(at, at + 1, reply(next.want, 5_000_050 + timing.idleRenewMs));
  // Past the first lease's end, before the next renewal: the second one holds.
  assert.equal(l.hasRoom(T0 + 50 + timing.leaseMs + 1, 1), true);
});

test('the first renewal already asks for a burst lease (granted only while half the window is free), so the first calls find one', () => {
  const l = new RateLedger(10_000_000, 4, timing, T0);
  const first = l.renewRequest(T0);
  assert.equal(first.want, 312_500);
  assert.equal(first.need, 0);
  assert.equal(first.minFree, 5_000_000);
  l.onReply(T0, T0 + 1, reply(first.want, 5_000_000));
  assert.equal(spendAll(l, T0 + 2, 1000), 1000);
});

test('a busy sidecar replaces its burst lease two renewals before it ends: one late renewal leaves no gap', () => {
  const l = sharedLedger(10_000_000, 4, 312_500);
  l.spend(T0 + 10, 1);
  // The lease sent at T0 ends at T0 + 1000; renewals every 250 ms while busy.
  assert.equal(l.renewRequest(T0 + 250).want < 100, true, 'still valid two renewals ahead');
  l.onReply(T0 + 250, T0 + 251, reply(0, 5_000_250));
  l.spend(T0 + 400, 1);
  assert.equal(l.renewRequest(T0 + 500).want >= 312_000, true, 'ends before the renewal after next: replaced now');
});

test('the first call after an idle renewal brings the next renewal to the busy schedule: 250 ms after the last, not 750', () => {
  const l = sharedLedger(10_000_000, 4, 0);
  l.renewRequest(T0 + 50);
  l.onReply(T0 + 50, T0 + 51, reply(312_500, 5_000_050));
  assert.equal(l.renewDue(T0 + 50 + timing.renewMs), false, 'idle: the next renewal is 750 ms away');
  l.spend(T0 + 100, 1);
  assert.equal(l.renewDue(T0 + 50 + timing.renewMs - 1), false);
  assert.equal(l.renewDue(T0 + 50 + timing.renewMs), true, 'busy: 250 ms after the last renewal');
  // Its lease (sent at T0 + 50) still has 750 ms to run: a renewal up to that late leaves no gap.
  const next = l.renewRequest(T0 + 50 + timing.renewMs);
  l.onReply(T0 + 300, T0 + 301, reply(next.want, 5_000_300));
  assert.equal(l.hasRoom(T0 + 50 + timing.leaseMs + 1, 1), true);
});
