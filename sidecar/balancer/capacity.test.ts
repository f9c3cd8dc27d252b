/** Full vs broken: only full backends make a call wait; a backend's own reports set how much one sidecar may send it. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { PRIORITY_HEADROOM, reportsSaturation } from './capacity.ts';
import type { Backend } from './backend.ts';
import { INITIAL_WINDOW, LoadSignal } from './load-signal.ts';

/** A backend as saturation sees it: a real LoadSignal (scrape interval 250 ms, saturation_queue 2, `sidecars`) and a count in flight. */
function backend(inFlight: number, sidecars = 1): { b: Backend & { inFlight: number }; load: LoadSignal } {
  const load = new LoadSignal(250);
  load.saturationQueue = 2;
  load.sidecars = sidecars;
  return { b: { inFlight, load } as unknown as Backend & { inFlight: number }, load };
}

describe('saturation_queue: a window of calls per backend, learned from its reports', () => {
  test('full once this sidecar has its window there; its own answers free room at once', () => {
    const { b, load } = backend(0);
    assert.equal(load.window, INITIAL_WINDOW);
    load.fromMetrics(2, 0, 0);
    assert.equal(reportsSaturation(b, 2, 10), false);
    b.inFlight = 1;
    assert.equal(reportsSaturation(b, 2, 10), true);
    b.inFlight = 0; // an answer came back: no report needed
    assert.equal(reportsSaturation(b, 2, 10), false);
    load.fromMetrics(0, 250, 0);
    assert.equal(load.window, 2, 'a window one call from full grows');
    load.fromMetrics(0, 500, 0);
    assert.equal(load.window, 2, 'an idle one does not');
  });

  test('reports below the threshold grow a window in use by 1/sidecar_count; at or above it the window is cut, once per interval', () => {
    const { load } = backend(0, 4);
    for (let t = 0; t < 2000; t += 250) load.fromMetrics(1, t, Math.floor(load.window));
    assert.equal(load.window, 3, '8 scrapes of 1/4');
    load.fromMetrics(0, 2000, 0);
    assert.equal(load.window, 3, 'an unused window does not grow');
    load.fromMetrics(0, 2001, 2);
    assert.equal(load.window, 3.25, 'one call from full: grows');
    load.fromMetrics(2, 2250, 3);
    assert.ok(Math.abs(load.window - 3.25 * 0.7) < 1e-9, `${load.window}`);
    load.fromMetrics(5, 2300, 3);
    assert.ok(Math.abs(load.window - 3.25 * 0.7) < 1e-9, 'one cut per interval');
    for (let t = 2500; t < 6000; t += 250) load.fromMetrics(9, t, 1);
    assert.equal(load.window, 1, 'never below one call');
  });

  test('answer headers grow it by 1/(window x sidecar_count) per answer while no scrape is fresh', () => {
    const { load } = backend(0, 2);
    for (let i = 0; i < 2; i++) load.fromHeaders(0, 300, i, 1);
    assert.ok(Math.abs(load.window - (1 + 1 / 2 + 1 / 3)) < 1e-9, `${load.window}`);
    load.fromHeaders(0, 300, 3, 0);
    assert.ok(Math.abs(load.window - (1 + 1 / 2 + 1 / 3)) < 1e-9, 'nothing in flight, window near 2: no growth');
  });

  test('a call of positive priority may go PRIORITY_HEADROOM calls past the window; default and sheddable ones may not', () => {
    const { b, load } = backend(1);
    load.fromMetrics(5, 0, 1); // window cut to its floor of one call, which is taken
    assert.equal(load.window, 1);
    assert.equal(reportsSaturation(b, 2, 10, 0), true);
    assert.equal(reportsSaturation(b, 2, 10, -1), true);
    assert.equal(reportsSaturation(b, 2, 10, 10), false, 'the urgent call is not held behind the default one');
    b.inFlight = 1 + PRIORITY_HEADROOM;
    assert.equal(reportsSaturation(b, 2, 10, 10), true, 'but only one call past the window');
  });

  test('never full while this sidecar has nothing there: one call probes and refreshes the report', () => {
    const { b, load } = backend(0);
    for (let t = 0; t < 5000; t += 250) load.fromMetrics(50, t, 3);
    assert.equal(reportsSaturation(b, 2, 5000), false);
  });

  test('a stale report never says full; unset means off', () => {
    const { b, load } = backend(9);
    load.fromMetrics(0, 0, 0);
    assert.equal(reportsSaturation(b, 2, 100), true);
    assert.equal(reportsSaturation(b, 2, 501), false, 'older than twice the interval');
    load.saturationQueue = undefined;
    assert.equal(reportsSaturation(b, undefined, 100), false, 'unset: off');
  });
});
