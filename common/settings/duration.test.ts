import assert from 'node:assert/strict';
import { test } from 'node:test';
import { durationSeconds, formatDuration } from './duration.ts';

test('Gateway API durations read as seconds; anything else is not a duration', () => {
  assert.equal(durationSeconds('500ms'), 0.5);
  assert.equal(durationSeconds('30s'), 30);
  assert.equal(durationSeconds('1h30m'), 5400);
  assert.equal(durationSeconds('1m1s1ms'), 61.001);
  assert.equal(durationSeconds('0s'), 0);
  for (const bad of ['30', '1.5s', '-1s', '1d', '', '123456s', '1h1m1s1ms1h', ' 1s'])
    assert.equal(durationSeconds(bad), undefined, bad);
});

test('seconds print as the shortest single-unit Duration, and read back the same', () => {
  const cases: [number, string][] = [
    [0, '0s'],
    [0.5, '500ms'],
    [0.001, '1ms'],
    [2, '2s'],
    [90, '90s'],
    [300, '5m'],
    [3600, '1h'],
    [86_400, '24h'],
    [65, '65s'],
  ];
  for (const [seconds, text] of cases) {
    assert.equal(formatDuration(seconds), text);
    assert.equal(durationSeconds(text), seconds);
  }
});
