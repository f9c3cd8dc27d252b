import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { heapPlan } from '../launch/heap-plan.ts';
import { BYTES_PER_CONNECTION, connectionCap, MAX_CONNECTIONS, MIN_CONNECTIONS } from './connection-cap.ts';

const MIB = 2 ** 20;

/** V8's heap limit under the launcher's plan for a container limit (old space + young generation). */
function heapLimitAt(limitMib: number): number {
  const flags = heapPlan(limitMib * MIB, []).flags;
  const size = (name: string) => Number(flags.find((f) => f.startsWith(`--${name}=`))!.split('=')[1]);
  return (size('max-old-space-size') + 3 * size('max-semi-space-size')) * MIB;
}

describe('connectionCap', () => {
  it('connections in flight can take at most a quarter of the heap at the limits pods run with', () => {
    for (const limit of [96, 128, 256, 512]) {
      const cap = connectionCap(heapLimitAt(limit));
      assert.ok(cap * BYTES_PER_CONNECTION <= heapLimitAt(limit) / 4, `${limit} MiB: ${cap}`);
      assert.ok(cap >= MIN_CONNECTIONS, `${limit} MiB: ${cap}`);
    }
  });

  it('grows with the heap, from a floor a busy application pool fits in, to a ceiling without a limit', () => {
    assert.ok(connectionCap(heapLimitAt(256)) > connectionCap(heapLimitAt(96)));
    assert.equal(connectionCap(1 * MIB), MIN_CONNECTIONS);
    assert.equal(connectionCap(16_384 * MIB), MAX_CONNECTIONS);
  });
});
