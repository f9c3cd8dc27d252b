import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { RenderedConfig } from '../render/render-config.ts';
import type { PoolStatus } from '../crd/pool-schema.ts';
import { computeStatus, sameStatus, warningsFor, type Observed } from './conditions.ts';

const rendered: RenderedConfig = {
  text: 'x',
  hash: 'abcdef0123456789'.repeat(4),
  staticCount: 1,
  discoveredCount: 3,
  readyCount: 3,
};
const base: Observed = {
  generation: 2,
  configMapName: 'p-reranker-config',
  rendered,
  renderFailure: undefined,
  appliedHash: rendered.hash,
  missingServices: [],
  sidecars: { total: 2, synced: 2, differing: [], inconsistent: [] },
};

function condition(o: Observed, type: string) {
  return computeStatus(undefined, o, 'T0').conditions!.find((c) => c.type === type)!;
}

describe('pool status', () => {
  const table: [string, Partial<Observed>, Record<string, [string, string]>][] = [
    [
      'all good',
      {},
      {
        Ready: ['True', 'Ready'],
        ConfigRendered: ['True', 'Rendered'],
        BackendsAvailable: ['True', 'BackendsReady'],
        SidecarsSynced: ['True', 'AllSynced'],
      },
    ],
    [
      'a referenced Service is gone',
      { missingServices: ['tei'] },
      { Ready: ['False', 'ServiceNotFound'], BackendsAvailable: ['False', 'ServiceNotFound'] },
    ],
    [
      'nothing ready',
      { rendered: { ...rendered, readyCount: 0 } },
      { Ready: ['False', 'NoReadyBackends'], BackendsAvailable: ['False', 'NoReadyBackends'] },
    ],
    [
      'a sidecar lags',
      { sidecars: { total: 2, synced: 1, differing: ['b serves 0123456789ab (want abcdef012345)'], inconsistent: [] } },
      { Ready: ['False', 'Syncing'], SidecarsSynced: ['False', 'Syncing'] },
    ],
    [
      'no selector: sync unknown, pool still ready',
      { sidecars: undefined },
      {
        Ready: ['True', 'Ready'],
        SidecarsSynced: ['Unknown', 'NoSelector'],
        ModelConsistent: ['Unknown', 'NoSidecars'],
      },
    ],
    [
      'a canary distrusts a backend: flagged, the pool stays ready',
      { sidecars: { total: 2, synced: 2, differing: [], inconsistent: ['tei-2'] } },
      { Ready: ['True', 'Ready'], ModelConsistent: ['False', 'InconsistentBackends'] },
    ],
    [
      'invalid spec',
      {
        rendered: undefined,
        appliedHash: undefined,
        renderFailure: { reason: 'InvalidSpec', message: 'spec.backends[0].apiBase: bad' },
      },
      { Ready: ['False', 'InvalidSpec'], ConfigRendered: ['False', 'InvalidSpec'] },
    ],
    [
      'too large for a ConfigMap: the last good config stays',
      { rendered: undefined, renderFailure: { reason: 'ConfigTooLarge', message: 'too large' } },
      {
        Ready: ['False', 'ConfigTooLarge'],
        ConfigRendered: ['False', 'ConfigTooLarge'],
        SidecarsSynced: ['True', 'AllSynced'],
      },
    ],
  ];
  for (const [name, change, want] of table) {
    test(name, () => {
      const o = { ...base, ...change };
      for (const [type, [status, reason]] of Object.entries(want)) {
        const c = condition(o, type);
        assert.deepEqual([c.status, c.reason], [status, reason], `${type}: ${c.message}`);
        assert.equal(c.observedGeneration, 2);
      }
    });
  }

  test('the message says why', () => {
    assert.equal(
      condition({ ...base, missingServices: ['tei'] }, 'BackendsAvailable').message,
      `discovery: Service "tei" not found in the pool's namespace`,
    );
  });

  test('lastTransitionTime moves only when the status changes', () => {
    const first = computeStatus(undefined, base, 'T0');
    const same = computeStatus(first, { ...base, rendered: { ...rendered, readyCount: 2 } }, 'T1');
    assert.ok(same.conditions!.every((c) => c.lastTransitionTime === 'T0'));
    const changed = computeStatus(same, { ...base, missingServices: ['x'] }, 'T2');
    const byType = Object.fromEntries(changed.conditions!.map((c) => [c.type, c.lastTransitionTime]));
    assert.deepEqual(byType, {
      Ready: 'T2',
      ConfigRendered: 'T0',
      BackendsAvailable: 'T2',
      SidecarsSynced: 'T0',
      ModelConsistent: 'T0',
    });
  });

  test('a sidecar that differs is named with the hash it serves and the one wanted', () => {
    const differing = ['b serves 0123456789ab (want abcdef012345)'];
    const c = condition({ ...base, sidecars: { total: 2, synced: 1, differing, inconsistent: [] } }, 'SidecarsSynced');
    assert.equal(c.message, '1/2 sidecars serve config abcdef012345; b serves 0123456789ab (want abcdef012345)');
    const many = Array.from({ length: 8 }, (_, i) => `pod-${i} unreachable (ETIMEDOUT)`);
    assert.match(
      condition({ ...base, sidecars: { total: 9, synced: 1, differing: many, inconsistent: [] } }, 'SidecarsSynced')
        .message,
      /pod-4 unreachable \(ETIMEDOUT\) and 3 more$/,
    );
  });

  test('without a new render, the counts and hash in place stay (no write every reconcile)', () => {
    const first = computeStatus(undefined, base, 'T0');
    const failed = {
      ...base,
      rendered: undefined,
      renderFailure: { reason: 'ConfigTooLarge' as const, message: 'too large' },
    };
    const second = computeStatus(first, failed, 'T1');
    assert.deepEqual([second.backends, second.configHash], [first.backends, first.configHash]);
    assert.ok(sameStatus(second, computeStatus(second, failed, 'T2')));
  });

  test('an unchanged observation computes an equal status (no write)', () => {
    const first = computeStatus(undefined, base, 'T0');
    assert.ok(sameStatus(first, computeStatus(first, base, 'T9')));
    assert.ok(
      !sameStatus(
        first,
        computeStatus(
          first,
          { ...base, sidecars: { total: 3, synced: 2, differing: ['c unreachable (ECONNREFUSED)'], inconsistent: [] } },
          'T9',
        ),
      ),
    );
  });
});

describe('warning events', () => {
  const good = computeStatus(undefined, base, 'T0');
  const reasons = (previous: PoolStatus | undefined, o: Observed, justRendered = false) =>
    warningsFor(previous, computeStatus(previous, o, 'T1'), justRendered).map((w) => w.reason);

  test('a missing Service, no ready backend, lagging sidecars and an inconsistent backend each warn once, when they start', () => {
    assert.deepEqual(reasons(good, { ...base, missingServices: ['tei'] }), ['ServiceNotFound']);
    assert.deepEqual(reasons(good, { ...base, rendered: { ...rendered, readyCount: 0 } }), ['NoReadyBackends']);
    const lagging: Observed = {
      ...base,
      sidecars: { total: 2, synced: 1, differing: ['b serves x (want y)'], inconsistent: ['tei-2'] },
    };
    assert.deepEqual(reasons(good, lagging), ['SidecarsNotSynced', 'InconsistentBackends']);
    const already = computeStatus(good, lagging, 'T1');
    assert.deepEqual(
      reasons(already, lagging),
      [],
      'no new warning while the condition stays False for the same reason',
    );
  });

  test('sidecars lagging a render they have not had time to load is not a warning', () => {
    assert.deepEqual(
      reasons(
        good,
        { ...base, sidecars: { total: 2, synced: 1, differing: ['b serves x (want y)'], inconsistent: [] } },
        true,
      ),
      [],
    );
  });
});
