/** The breaker's rules on a clock the test holds (the balancer-level cases are in split-hedge.test.ts). */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { BreakerSettings } from '../config/model.ts';
import { Breaker } from './breaker.ts';

const settings = (over: Partial<BreakerSettings> = {}): BreakerSettings => ({
  allowedFails: 1_000,
  cooldownMs: 5_000,
  failureThresholdPercent: 50,
  failureThresholdMinRequests: 4,
  windowMs: 60_000,
  ...over,
});

/** Records `n` closed-state verdicts at `now`. */
function feed(b: Breaker, now: number, verdicts: string): void {
  for (const v of verdicts) b.record('closed', v === 'x' ? 'failure' : v === '.' ? 'success' : 'neutral', now);
}

describe('breaker', () => {
  test('opens after more than allowed_fails failures in a row; a success in between resets the row, a neutral end does not', () => {
    const b = new Breaker(settings({ allowedFails: 2, failureThresholdMinRequests: 100 }));
    feed(b, 0, 'xx.xx');
    assert.equal(b.state(0), 'closed');
    feed(b, 0, 'c');
    feed(b, 0, 'x');
    assert.equal(b.state(0), 'open', 'x x (cancelled) x: three in a row');
  });

  test('the failure-rate rule: at least failure_threshold_percent of at least failure_threshold_min_requests calls in the window', () => {
    const b = new Breaker(settings());
    feed(b, 0, '.x.');
    assert.equal(b.state(0), 'closed', '3 calls: below the minimum');
    feed(b, 0, 'x');
    assert.equal(b.state(0), 'open', '2 of 4 failed: 50%');
    const c = new Breaker(settings());
    feed(c, 0, 'xx');
    feed(c, 61_000, '..');
    assert.equal(c.state(61_000), 'closed', 'the failures left the window');
    const d = new Breaker(settings());
    feed(d, 0, 'x.xccccx');
    assert.equal(
      d.state(0),
      'open',
      'neutral ends are not calls: 3 of 4 failed (as successes they would dilute it to 3 of 8)',
    );
  });

  test('open for cooldown_time, then one probe; its verdict decides', () => {
    const b = new Breaker(settings({ allowedFails: 0 }));
    feed(b, 1_000, 'x');
    assert.deepEqual([b.state(5_999), b.admits(5_999), b.tryAcquire(5_999)], ['open', false, undefined]);
    assert.deepEqual([b.state(6_000), b.admits(6_000)], ['half-open', true]);
    assert.equal(b.tryAcquire(6_000), 'probe');
    assert.deepEqual([b.admits(6_000), b.tryAcquire(6_000)], [false, undefined], 'one probe at a time');
    b.record('probe', 'neutral', 6_100);
    assert.deepEqual(
      [b.state(6_100), b.admits(6_100)],
      ['half-open', true],
      'a cancelled probe frees the slot and decides nothing',
    );
    assert.equal(b.tryAcquire(6_200), 'probe');
    b.record('probe', 'failure', 6_300);
    assert.deepEqual(
      [b.state(11_299), b.state(11_300)],
      ['open', 'half-open'],
      'a failed probe: another full cooldown',
    );
    assert.equal(b.tryAcquire(11_300), 'probe');
    b.record('probe', 'success', 11_400);
    assert.equal(b.state(11_400), 'closed');
    feed(b, 11_500, 'x');
    assert.equal(b.state(11_500), 'open', 'allowed_fails 0: the next failure opens it again');
  });

  test('a good probe starts afresh: old failures in the window do not reopen it', () => {
    const b = new Breaker(settings({ failureThresholdMinRequests: 2 }));
    feed(b, 0, 'xx');
    assert.equal(b.tryAcquire(5_000), 'probe');
    b.record('probe', 'success', 5_000);
    feed(b, 5_000, '.x');
    assert.equal(b.state(5_000), 'open', '1 of 2 after the close: 50%');
    const c = new Breaker(settings({ failureThresholdMinRequests: 3 }));
    feed(c, 0, 'xxx');
    c.record(c.tryAcquire(5_000)!, 'success', 5_000);
    feed(c, 5_000, '.x');
    assert.equal(c.state(5_000), 'closed', 'the three old failures are gone: 1 of 2 is below the minimum');
  });

  test('attempts sent before it opened neither extend the cooldown nor close it', () => {
    const b = new Breaker(settings({ allowedFails: 0 }));
    feed(b, 0, 'x');
    feed(b, 4_000, 'x');
    assert.equal(b.state(5_000), 'half-open', 'a late failure did not restart the cooldown');
    feed(b, 5_000, '.');
    assert.equal(b.state(5_000), 'half-open', 'a late success is not the probe');
  });

  test('a last resort gets a call beside the half-open probe; its verdict changes nothing, the probe decides; an open breaker still refuses', () => {
    const b = new Breaker(settings({ allowedFails: 0 }));
    b.record('closed', 'failure', 1_000);
    assert.deepEqual(
      [b.admitsAsLastResort(5_999), b.tryAcquire(5_999, true)],
      [false, undefined],
      'open: cooling down',
    );
    assert.equal(b.tryAcquire(6_000), 'probe');
    assert.deepEqual([b.admits(6_000), b.admitsAsLastResort(6_000)], [false, true]);
    assert.equal(b.tryAcquire(6_000, true), 'beside-probe');
    b.record('beside-probe', 'success', 6_050);
    assert.equal(b.state(6_050), 'half-open', 'not the probe: it does not close the breaker');
    b.record('beside-probe', 'failure', 6_060);
    assert.equal(b.state(6_060), 'half-open', 'nor open it again');
    b.record('probe', 'success', 6_100);
    assert.equal(b.state(6_100), 'closed');
  });
});
