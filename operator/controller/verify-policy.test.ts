import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_VERIFY_POLICY, nextVerification, type SidecarState } from './verify-policy.ts';

const middle = () => 0.5; // no jitter

test('synced pools are verified again every 30 s; lagging ones back off 1, 2, 4 ... 30 s; none wait for events', () => {
  const table: [string, SidecarState, number, number | undefined, number][] = [
    ['synced: keep checking', 'synced', 0, 30_000, 0],
    ['synced after lagging: streak resets', 'synced', 5, 30_000, 0],
    ['first lag', 'lagging', 0, 1000, 1],
    ['second lag', 'lagging', 1, 2000, 2],
    ['fifth lag', 'lagging', 4, 16_000, 5],
    ['lagging for long: capped', 'lagging', 9, 30_000, 10],
    ['no sidecars', 'none', 3, undefined, 0],
  ];
  for (const [name, state, streak, delay, nextStreak] of table) {
    assert.deepEqual(
      nextVerification(state, streak, DEFAULT_VERIFY_POLICY, middle),
      { delayMs: delay, lagStreak: nextStreak },
      name,
    );
  }
});

test('jitter stays within +/-10%', () => {
  assert.equal(nextVerification('synced', 0, DEFAULT_VERIFY_POLICY, () => 0).delayMs, 27_000);
  assert.equal(nextVerification('synced', 0, DEFAULT_VERIFY_POLICY, () => 0.999999).delayMs, 33_000);
});
