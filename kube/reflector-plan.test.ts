/**
 * The reflector's decisions, table by table: which list query (watch cache or consistent), what
 * follows each way a list or watch ends, and how long to wait (backoff, jitter, Retry-After, reset).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { KubeApiError } from './api.ts';
import {
  DEFAULT_TUNING,
  INITIAL_STATE,
  afterList,
  afterListFailure,
  afterWatch,
  backoffMs,
  classify,
  listQuery,
  type ReflectorState,
} from './reflector-plan.ts';

const T = DEFAULT_TUNING;
const mid = () => 0.5;
const synced: ReflectorState = { ...INITIAL_STATE, rv: '42' };
const gone = new KubeApiError(410, 'too old resource version: 1 (40)', 'Expired');

describe('list queries', () => {
  const cases: [string, ReflectorState, Record<string, string | undefined>][] = [
    [
      'the first list: the watch cache (RV 0; the cache ignores limit there)',
      INITIAL_STATE,
      { resourceVersion: '0', limit: '500' },
    ],
    [
      'later lists: the watch cache, not older than the last RV, unpaged',
      synced,
      { resourceVersion: '42', resourceVersionMatch: 'NotOlderThan' },
    ],
    ['after the server refused our RV: consistent, paged', { ...synced, rvUnavailable: true }, { limit: '500' }],
    [
      'a server that paged an RV-0 list has no watch cache: keep paging',
      { ...synced, paged: true },
      { resourceVersion: '42', resourceVersionMatch: 'NotOlderThan', limit: '500' },
    ],
  ];
  for (const [name, state, query] of cases) test(name, () => assert.deepEqual(listQuery(state, T), query));

  test('a paged result marks the resource paged only for an RV-0 list (a consistent list is paged on purpose)', () => {
    assert.equal(
      afterList(INITIAL_STATE, { rv: '5', pagedResult: true, query: { resourceVersion: '0' } }).state.paged,
      true,
    );
    assert.equal(
      afterList({ ...synced, rvUnavailable: true }, { rv: '5', pagedResult: true, query: { limit: '500' } }).state
        .paged,
      false,
    );
  });

  test('a list clears rvUnavailable, takes the list RV and watches at once', () => {
    const step = afterList({ ...synced, rvUnavailable: true }, { rv: '77', pagedResult: false, query: {} });
    assert.deepEqual(
      [step.next, step.delayMs, step.state.rv, step.state.rvUnavailable, step.failure],
      ['watch', 0, '77', false, undefined],
    );
  });
});

describe('after a failed list', () => {
  test('410 Expired or a too large RV: a consistent list at once, no failure counted', () => {
    for (const error of [
      gone,
      new KubeApiError(504, 'Timeout: Too large resource version: 99, current: 42', 'Timeout'),
    ]) {
      const step = afterListFailure(synced, error, 0, T, mid);
      assert.deepEqual([step.next, step.delayMs, step.state.rvUnavailable, step.failure], ['list', 0, true, undefined]);
    }
  });
  test('410 again on the consistent list: now a failure, backed off', () => {
    const step = afterListFailure({ ...synced, rvUnavailable: true }, gone, 0, T, mid);
    assert.deepEqual([step.next, step.delayMs, step.failure !== undefined], ['list', 1200, true]);
  });
  test('429 waits at least its Retry-After; 500 and network failures back off', () => {
    assert.equal(
      afterListFailure(synced, new KubeApiError(429, 'slow down', 'TooManyRequests', 7), 0, T, mid).delayMs,
      7000,
    );
    assert.equal(
      afterListFailure(synced, new KubeApiError(429, 'slow down', 'TooManyRequests', undefined), 0, T, mid).delayMs,
      1200,
    );
    assert.equal(afterListFailure(synced, new KubeApiError(500, 'boom', undefined), 0, T, mid).delayMs, 1200);
    assert.equal(afterListFailure(synced, new TypeError('fetch failed'), 0, T, mid).next, 'list');
  });
});

describe('after a watch', () => {
  const cases: [string, Parameters<typeof afterWatch>[1], 'list' | 'watch', boolean][] = [
    [
      'the server ended it (its timeout): resume from the last RV at once',
      { how: 'ended', ms: 300_000, events: 3 },
      'watch',
      false,
    ],
    [
      'it closed at once without an event: a failure, then a list from the cache',
      { how: 'ended', ms: 20, events: 0 },
      'list',
      true,
    ],
    [
      'a stream cut after events: resume from the last RV at once',
      { how: 'failed', error: new TypeError('terminated'), ms: 30, events: 2 },
      'watch',
      false,
    ],
    [
      'no connection (refused): back off, then watch again from the same RV',
      { how: 'failed', error: new TypeError('fetch failed'), ms: 3, events: 0 },
      'watch',
      true,
    ],
    [
      '410 Gone in the stream: back off, then list from the cache',
      { how: 'failed', error: gone, ms: 50, events: 1 },
      'list',
      true,
    ],
    [
      '429: back off, then watch again',
      { how: 'failed', error: new KubeApiError(429, 'slow down', undefined, 2), ms: 1, events: 0 },
      'watch',
      true,
    ],
    [
      '500: back off, then list',
      { how: 'failed', error: new KubeApiError(500, 'boom', undefined), ms: 1, events: 0 },
      'list',
      true,
    ],
    ['silent past the watchdog: back off, then watch again', { how: 'silent', ms: 330_000 }, 'watch', true],
    ['our own periodic re-list', { how: 'relist' }, 'list', false],
  ];
  for (const [name, end, next, failure] of cases) {
    test(name, () => {
      const step = afterWatch(synced, end, 0, T, mid);
      assert.equal(step.next, next);
      assert.equal(step.failure !== undefined, failure);
      assert.equal(step.delayMs > 0, failure);
      assert.equal(step.state.rv, '42', 'the RV is kept: lists are served from the cache at it');
      assert.equal(step.state.rvUnavailable, false);
    });
  }
  test('a 429 in the stream waits its Retry-After when longer than the backoff', () => {
    assert.equal(
      afterWatch(
        synced,
        { how: 'failed', error: new KubeApiError(429, 'x', undefined, 5), ms: 1, events: 0 },
        0,
        T,
        mid,
      ).delayMs,
      5000,
    );
  });
});

describe('backoff', () => {
  test('doubles from 800 ms to the 30 s cap, jittered between 1x and 2x', () => {
    let state = synced;
    const delays: number[] = [];
    for (let i = 0; i < 8; i++) {
      const step = afterWatch(state, { how: 'ended', ms: 1, events: 0 }, i * 1000, T, () => 0);
      state = step.state;
      delays.push(step.delayMs);
    }
    assert.deepEqual(delays, [800, 1600, 3200, 6400, 12_800, 25_600, 30_000, 30_000]);
    assert.equal(
      backoffMs(1, T, () => 0.999),
      800 * 1.999,
    );
  });
  test('starts over after two quiet minutes', () => {
    const busy = { ...synced, failures: 6, lastFailureAt: 0 };
    assert.equal(afterWatch(busy, { how: 'ended', ms: 1, events: 0 }, 119_000, T, () => 0).delayMs, 30_000);
    assert.equal(afterWatch(busy, { how: 'ended', ms: 1, events: 0 }, 120_000, T, () => 0).delayMs, 800);
  });
});

test('classify: Status reasons and codes, and errors without a response', () => {
  assert.equal(classify(new KubeApiError(410, 'x', undefined)).kind, 'rv-unusable');
  assert.equal(classify(new KubeApiError(500, 'x', 'Expired')).kind, 'rv-unusable');
  assert.equal(classify(new KubeApiError(429, 'x', undefined, 3)).kind, 'throttled');
  assert.equal(classify(new KubeApiError(503, 'x', undefined)).kind, 'status');
  assert.equal(
    classify(new TypeError('fetch failed', { cause: new Error('connect ECONNREFUSED') })).message,
    'fetch failed (connect ECONNREFUSED)',
  );
});
