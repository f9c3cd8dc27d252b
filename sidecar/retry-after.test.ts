import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  MAX_PARK_MS,
  parkedUntil,
  parkMsFor,
  parseRetryAfter,
  rateLimited,
  retryAfterHeader,
  retryAfterSeconds,
} from './retry-after.ts';

describe('Retry-After', () => {
  const now = Date.parse('2026-01-01T00:00:00Z');

  test("a backend's Retry-After in seconds or as an HTTP date; unreadable is none", () => {
    assert.equal(parseRetryAfter('3', now), 3000);
    assert.equal(parseRetryAfter('0.5', now), 500);
    assert.equal(parseRetryAfter('Thu, 01 Jan 2026 00:00:10 GMT', now), 10_000);
    assert.equal(parseRetryAfter(['2', '9'], now), 2000, 'a repeated header: the first');
    for (const bad of ['soon', '', ' ', undefined]) assert.equal(parseRetryAfter(bad, now), undefined, String(bad));
  });

  test('clamped: a date in the past is no pause, a huge ask is at most five minutes', () => {
    assert.equal(parseRetryAfter('Wed, 31 Dec 2025 23:00:00 GMT', now), 0);
    assert.equal(parseRetryAfter('-5', now), 0);
    assert.equal(parseRetryAfter('99999999', now), MAX_PARK_MS);
  });

  test('what parks a backend: a 429 always (1 s without a header), a 503 only with Retry-After', () => {
    assert.deepEqual(
      [
        parkMsFor(429, undefined),
        parkMsFor(429, 7000),
        parkMsFor(503, undefined),
        parkMsFor(503, 7000),
        parkMsFor(500, 7000),
      ],
      [1000, 7000, undefined, 7000, undefined],
    );
  });

  test('a shorter pause never cuts a longer one already in force', () => {
    assert.equal(parkedUntil(10_000, 1000, 2000), 10_000);
    assert.equal(parkedUntil(10_000, 9000, 2000), 11_000);
  });

  test('callers are told whole seconds, rounded up, at least 1', () => {
    assert.deepEqual(
      [
        retryAfterSeconds(0),
        retryAfterSeconds(1),
        retryAfterSeconds(1000),
        retryAfterSeconds(1001),
        retryAfterSeconds(Number.POSITIVE_INFINITY),
      ],
      [1, 1, 1, 2, 1],
    );
    assert.deepEqual([retryAfterHeader(undefined), retryAfterHeader(3), retryAfterHeader(0)], [undefined, '3', '1']);
    const busy = rateLimited('the queue is full', 2500);
    assert.deepEqual([busy.status, busy.code, busy.retryAfterSeconds], [429, 'rate_limited', 3]);
  });
});
