import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { RetryBudget } from './retry-budget.ts';
import { SlidingWindow } from './sliding-window.ts';
import { estimateTokens } from './token-estimate.ts';

describe('sliding window', () => {
  test('counts the last 60 s, not since a minute boundary', () => {
    const w = new SlidingWindow();
    w.add(59_500, 5); // just before a minute boundary
    w.add(60_200, 3);
    assert.equal(w.total(60_300), 8, 'a fixed window would have reset at 60 s');
    assert.equal(w.total(119_400), 3, 'the first slice expired; the second has not');
    assert.equal(w.total(120_300), 0);
  });

  test('reports when room frees up', () => {
    const w = new SlidingWindow();
    w.add(1_000, 4);
    w.add(30_000, 6);
    assert.equal(w.msUntilRoom(31_000, 10, 1), 30_000); // the 4 at t=1 s expire at t=61 s
    assert.equal(w.msUntilRoom(31_000, 20, 1), 0);
  });
});

describe('retry budget', () => {
  test('allows the per-second floor, then a share of the requests of the last 10 s', () => {
    let t = 0;
    const budget = new RetryBudget(20, 1, { now: () => t, wallNow: () => t });
    // The floor: 1/s over a 10 s window = 10 retries with no requests at all.
    for (let i = 0; i < 10; i++) assert.ok(budget.tryStartRetry(), `floor retry ${i}`);
    assert.equal(budget.tryStartRetry(), false);
    for (let i = 0; i < 50; i++) budget.requestStarted(); // 20% of 50 = 10 more
    for (let i = 0; i < 10; i++) assert.ok(budget.tryStartRetry(), `share retry ${i}`);
    assert.equal(budget.tryStartRetry(), false, 'a sustained storm is capped');
    t += 10_500; // the window has moved on
    assert.ok(budget.tryStartRetry());
  });

  test('a burst of retries fits when the recent traffic pays for it', () => {
    let t = 0;
    const budget = new RetryBudget(20, 10, { now: () => t, wallNow: () => t });
    for (let i = 0; i < 1500; i++) {
      budget.requestStarted();
      if (i % 150 === 0) t += 1000; // 150 requests per second for 10 s
    }
    let granted = 0;
    for (let i = 0; i < 40; i++) if (budget.tryStartRetry()) granted++; // one stalled backend's timeouts, all at once
    assert.equal(granted, 40);
  });
});

test('token estimate: N x query tokens + document tokens', () => {
  const request = { query: 'abcdefgh', documents: ['abcd', 'abcdefghi'] } as unknown as Parameters<
    typeof estimateTokens
  >[0];
  assert.equal(estimateTokens(request), 2 * 2 + 1 + 3);
});
