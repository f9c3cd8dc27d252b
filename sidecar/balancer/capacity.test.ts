/** Full vs broken: only full backends make a call wait; a backend's own report can say full. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { reportsSaturation } from './capacity.ts';
import type { Backend } from './backend.ts';

function backend(over: { inFlight: number; reportedQueue: number; sentSinceReport: number }): Backend {
  return over as unknown as Backend;
}

describe('saturation_queue', () => {
  test('full at the threshold: the reported queue plus what this sidecar sent since', () => {
    assert.equal(reportsSaturation(backend({ inFlight: 2, reportedQueue: 1, sentSinceReport: 1 }), 2), true);
    assert.equal(reportsSaturation(backend({ inFlight: 2, reportedQueue: 1, sentSinceReport: 0 }), 2), false);
  });

  test('never full while this sidecar has nothing there: one call probes and refreshes the report', () => {
    assert.equal(reportsSaturation(backend({ inFlight: 0, reportedQueue: 50, sentSinceReport: 0 }), 2), false);
  });

  test('a stale report never says full; unset means off', () => {
    assert.equal(reportsSaturation(backend({ inFlight: 3, reportedQueue: Number.NaN, sentSinceReport: 9 }), 2), false);
    assert.equal(reportsSaturation(backend({ inFlight: 3, reportedQueue: 99, sentSinceReport: 9 }), undefined), false);
  });
});
