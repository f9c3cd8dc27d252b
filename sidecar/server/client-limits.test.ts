import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ServerResponse } from 'node:http';
import { ManualTime } from '../../common/manual-time.ts';
import { ClientLimits, serverOptions, SWEEP_MS } from './client-limits.ts';

const limits = { headerTimeoutMs: 10_000, bodyTimeoutMs: 30_000, sendTimeoutMs: 10_000, keepAliveTimeoutMs: 5000 };

/** A response whose socket has `queued` bytes waiting for the client to read them. */
function response(queued: { bytes: number }): ServerResponse & { destroyed: boolean } {
  const res = {
    headersSent: true,
    writableFinished: false,
    destroyed: false,
    get socket() {
      return { writableLength: queued.bytes };
    },
    destroy() {
      this.destroyed = true;
    },
  };
  return res as unknown as ServerResponse & { destroyed: boolean };
}

describe('send stall limit', () => {
  test('an answer the client does not read is cut after send_timeout without progress', () => {
    const time = new ManualTime();
    const cl = new ClientLimits(limits, time, time);
    const stuck = { bytes: 5_000_000 };
    const res = response(stuck);
    cl.track(res);
    for (let t = 0; t < 10; t++) {
      cl.sweep();
      time.advance(SWEEP_MS);
    }
    assert.equal(res.destroyed, false, 'not before 10 s');
    cl.sweep();
    assert.equal(res.destroyed, true);
    assert.equal(cl.stalledCut, 1);
  });

  test('a slow client that keeps reading is not cut', () => {
    const time = new ManualTime();
    const cl = new ClientLimits(limits, time, time);
    const slow = { bytes: 5_000_000 };
    const res = response(slow);
    cl.track(res);
    for (let t = 0; t < 60; t++) {
      cl.sweep();
      time.advance(SWEEP_MS);
      slow.bytes -= 50_000;
    }
    assert.equal(res.destroyed, false);
  });

  test('a call still waiting for its backend (no headers sent) is never cut by the send limit', () => {
    const time = new ManualTime();
    const cl = new ClientLimits(limits, time, time);
    const res = Object.assign(response({ bytes: 0 }), { headersSent: false });
    cl.track(res);
    for (let t = 0; t < 60; t++) {
      cl.sweep();
      time.advance(SWEEP_MS);
    }
    assert.equal(res.destroyed, false);
  });

  test("Node's own timers get the header and whole-request limits, checked every second", () => {
    assert.deepEqual(serverOptions(limits), {
      headersTimeout: 10_000,
      requestTimeout: 30_000,
      keepAliveTimeout: 5000,
      connectionsCheckingInterval: 1000,
    });
    assert.equal(
      serverOptions({ ...limits, bodyTimeoutMs: 1000 }).requestTimeout,
      10_000,
      'never shorter than the header limit (Node refuses that)',
    );
  });
});
