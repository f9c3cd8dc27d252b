/** A backend's own load report and its age; the limits it tells about itself (TEI /info). */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { LoadSignal } from './load-signal.ts';
import { parseInfo, withReportedLimits } from './reported-limits.ts';
import type { BackendSpec } from '../config/model.ts';

describe('load signal', () => {
  test('answer headers: queue time over inference time is the calls ahead per slot', () => {
    const s = new LoadSignal(1000);
    s.fromHeaders(250, 50, 0);
    assert.deepEqual(s.reading(0), { queue: 5, at: 0, source: 'headers' });
  });

  test('a report older than twice the interval is no report: routing falls back to local counts', () => {
    const s = new LoadSignal(1000);
    s.fromHeaders(100, 50, 0);
    assert.equal(s.queueAt(2000), 2);
    assert.ok(Number.isNaN(s.queueAt(2001)));
    assert.equal(s.reading(2001), undefined);
  });

  test('fresh header samples are smoothed; after a stale gap the new sample stands alone', () => {
    const s = new LoadSignal(1000);
    s.fromHeaders(400, 100, 0);
    s.fromHeaders(0, 100, 10);
    assert.equal(s.queueAt(10), 2);
    s.fromHeaders(100, 100, 5000);
    assert.equal(s.queueAt(5000), 1);
  });

  test('the scrape wins while fresh (it counts calls), then headers take over', () => {
    const s = new LoadSignal(500);
    s.fromHeaders(100, 100, 900);
    s.fromMetrics(7, 0);
    assert.equal(s.reading(800)?.source, 'metrics');
    assert.equal(s.queueAt(800), 7);
    assert.deepEqual(s.reading(1001), { queue: 1, at: 900, source: 'headers' });
  });

  test('untrusted values are ignored: negative, not finite', () => {
    const s = new LoadSignal(1000);
    s.fromHeaders(-1, 10, 0);
    s.fromHeaders(Number.NaN, 10, 0);
    s.fromMetrics(Number.POSITIVE_INFINITY, 0);
    s.fromMetrics(-3, 0);
    assert.equal(s.reading(0), undefined);
  });
});

const SPEC = {
  maxDocumentsPerCall: 32,
  maxParallelRequests: undefined,
  sidecarCount: 4,
  limitsConfigured: { maxDocuments: false, maxParallel: false },
} as unknown as BackendSpec;

describe('reported limits (TEI /info)', () => {
  test('unconfigured: max_client_batch_size is the split size, max_concurrent_requests split over the sidecars', () => {
    const limits = parseInfo({ model_id: 'x', max_client_batch_size: 64, max_concurrent_requests: 10 }, 0)!;
    const spec = withReportedLimits(SPEC, limits);
    assert.equal(spec.maxDocumentsPerCall, 64);
    assert.equal(spec.maxParallelRequests, 3);
  });

  test('configured limits win', () => {
    const configured = {
      ...SPEC,
      maxDocumentsPerCall: 8,
      maxParallelRequests: 2,
      limitsConfigured: { maxDocuments: true, maxParallel: true },
    } as BackendSpec;
    const spec = withReportedLimits(
      configured,
      parseInfo({ max_client_batch_size: 64, max_concurrent_requests: 512 }, 0),
    );
    assert.equal(spec.maxDocumentsPerCall, 8);
    assert.equal(spec.maxParallelRequests, 2);
  });

  test('an /info that is not an object, or whose limits are not positive integers, tells nothing', () => {
    for (const body of [
      null,
      [],
      'x',
      { max_client_batch_size: -1 },
      { max_client_batch_size: 1.5, max_concurrent_requests: '9' },
      { max_concurrent_requests: 1e12 },
    ]) {
      assert.equal(parseInfo(body, 0), undefined, JSON.stringify(body));
    }
  });
});

describe('the window follows the report', () => {
  test('answer headers move it only while no scrape is fresh: the scrape is the report', () => {
    const s = new LoadSignal(1000);
    s.configure(1000, 2, 1);
    s.fromMetrics(0, 100, 1);
    assert.equal(s.window, 2);
    s.fromHeaders(0, 10, 200, 2);
    assert.equal(s.window, 2, 'a fresh scrape: the header does not move it');
    s.fromHeaders(0, 10, 2200, 2);
    assert.equal(s.window, 2.5, 'the scrape is stale: the header grows it by 1/window');
  });
});
