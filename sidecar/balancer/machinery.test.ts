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
  test('allows at least the minimum, then 20% of active requests', () => {
    const budget = new RetryBudget(20, 3);
    budget.requestStarted();
    assert.ok(budget.tryStartRetry() && budget.tryStartRetry() && budget.tryStartRetry());
    assert.equal(budget.tryStartRetry(), false);
    for (let i = 0; i < 29; i++) budget.requestStarted(); // 30 active -> 6 retries
    assert.ok(budget.tryStartRetry() && budget.tryStartRetry() && budget.tryStartRetry());
    assert.equal(budget.tryStartRetry(), false);
    budget.retryEnded();
    assert.equal(budget.tryStartRetry(), true);
  });
});

test('token estimate: N x query tokens + document tokens', () => {
  const request = { query: 'abcdefgh', documents: ['abcd', 'abcdefghi'] } as unknown as Parameters<typeof estimateTokens>[0];
  assert.equal(estimateTokens(request), 2 * 2 + 1 + 3);
});
