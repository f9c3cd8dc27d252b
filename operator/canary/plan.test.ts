/** The pool's canary plan: who runs the canary, whose verdicts, and when it is written. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { formatCanaryPlan, parseCanaryPlan, type CanaryPlan } from '../../common/canary-plan.ts';
import { WriteMemo } from '../controller/write-memo.ts';
import type { CachedConfigMap } from '../controller/cache-transforms.ts';
import { nextPlan } from './plan.ts';
import { canaryEnabled, syncCanaryPlan } from './plan-sync.ts';

const none = new Map();

describe('nextPlan', () => {
  test('the first pod by name runs it; it stays while it lives, whatever pods come and go', () => {
    const first = nextPlan(undefined, { enabled: true, pods: ['app-c', 'app-a', 'app-b'], rounds: none });
    assert.deepEqual(first, { runner: 'app-a', inconsistent: [], judgedAt: undefined });
    const later = nextPlan(first, { enabled: true, pods: ['app-0', 'app-a', 'app-d'], rounds: none });
    assert.equal(later?.runner, 'app-a', 'a new pod sorting first does not take over');
    assert.equal(
      nextPlan(later, { enabled: true, pods: ['app-d', 'app-0'], rounds: none })?.runner,
      'app-0',
      'the runner gone: the first by name',
    );
  });

  test("verdicts are the runner's alone; until a new runner reports, the old verdicts stay", () => {
    const plan: CanaryPlan = { runner: 'app-a', inconsistent: ['tei-1'], judgedAt: 'T1' };
    const rounds = new Map([['app-b', { inconsistent: ['tei-1', 'tei-2'], at: 'T2' }]]);
    assert.deepEqual(
      nextPlan(plan, { enabled: true, pods: ['app-a', 'app-b'], rounds }),
      plan,
      'a pod that is not the runner is not listened to',
    );
    const withdrawn = nextPlan(plan, {
      enabled: true,
      pods: ['app-a', 'app-b'],
      rounds: new Map([['app-a', { inconsistent: [], at: 'T3' }]]),
    });
    assert.deepEqual(withdrawn, { runner: 'app-a', inconsistent: [], judgedAt: 'T3' });
    assert.deepEqual(nextPlan(plan, { enabled: true, pods: ['app-b'], rounds: none }), {
      runner: 'app-b',
      inconsistent: ['tei-1'],
      judgedAt: 'T1',
    });
  });

  test('no sidecar pods: no runner (each sidecar runs its own); canary off: nothing new', () => {
    assert.equal(nextPlan(undefined, { enabled: true, pods: [], rounds: none }), undefined);
    assert.equal(
      nextPlan({ runner: 'app-a', inconsistent: [], judgedAt: undefined }, { enabled: true, pods: [], rounds: none })
        ?.runner,
      undefined,
    );
    assert.equal(nextPlan(undefined, { enabled: false, pods: ['app-a'], rounds: none }), undefined);
  });

  test('the text is stable and bounded; a hand-edited plan is read leniently', () => {
    const plan = { runner: 'app-a', inconsistent: ['b', 'a'], judgedAt: 'T' };
    assert.equal(formatCanaryPlan(plan), formatCanaryPlan({ ...plan, inconsistent: ['a', 'b'] }));
    assert.deepEqual(parseCanaryPlan(formatCanaryPlan(plan)), {
      runner: 'app-a',
      inconsistent: ['a', 'b'],
      judgedAt: 'T',
    });
    assert.deepEqual(parseCanaryPlan('{"runner": 7, "inconsistent": ["x", 3, ""]}'), {
      runner: undefined,
      inconsistent: ['x'],
      judgedAt: undefined,
    });
    assert.equal(parseCanaryPlan('not json'), undefined);
    assert.equal(
      parseCanaryPlan(
        formatCanaryPlan({
          runner: 'r',
          inconsistent: Array.from({ length: 100 }, (_, i) => `b${i}`),
          judgedAt: undefined,
        }),
      )!.inconsistent.length,
      64,
    );
  });

  test('canaryEnabled: durations above zero', () => {
    assert.deepEqual(['5m', '0s', '0m0s', undefined, '100ms'].map(canaryEnabled), [true, false, false, false, true]);
  });
});

describe('syncCanaryPlan', () => {
  const pool = {
    apiVersion: 'reranker.dev/v1alpha1',
    kind: 'RerankerPool',
    metadata: { name: 'search', namespace: 'app', uid: 'u1', resourceVersion: '1' },
    spec: {},
  } as never;
  function world() {
    let cm: CachedConfigMap | undefined;
    const writes: any[] = [];
    let rv = 10;
    const deps = {
      api: {
        apply: async (_path: string, body: any) => {
          writes.push(body);
          return { metadata: { name: body.metadata.name, resourceVersion: String(++rv) } } as never;
        },
      },
      configMap: () => cm,
      memo: new WriteMemo<string | undefined>(),
      fieldManager: 'op',
      labels: { 'app.kubernetes.io/managed-by': 'op' },
    };
    const catchUp = () => {
      const last = writes.at(-1);
      cm = { metadata: { name: last.metadata.name, resourceVersion: String(rv) }, planText: last.data['canary.json'] };
    };
    return {
      deps,
      writes,
      catchUp,
      sync: (pods: string[], rounds?: Map<string, { inconsistent: string[]; at: string }>) =>
        syncCanaryPlan(deps, pool, { interval: '5m', configMapName: 'search-reranker-config', pods, rounds }),
    };
  }

  test('written once per change, not again while the cache lags, never for pod churn that keeps the runner', async () => {
    const w = world();
    await w.sync(['app-a', 'app-b']);
    await w.sync(['app-a', 'app-b']); // the cache has not seen the write yet
    assert.equal(w.writes.length, 1);
    assert.equal(w.writes[0].metadata.name, 'search-reranker-config-canary');
    assert.deepEqual(w.writes[0].metadata.ownerReferences[0].uid, 'u1');
    w.catchUp();
    for (const pods of [['app-a', 'app-c'], ['app-a'], ['app-a', 'app-d', 'app-e']]) await w.sync(pods);
    assert.equal(w.writes.length, 1, 'other pods coming and going change nothing');
    await w.sync(['app-a'], new Map([['app-a', { inconsistent: ['tei-9'], at: 'T' }]]));
    assert.equal(w.writes.length, 2);
    assert.deepEqual(JSON.parse(w.writes[1].data['canary.json']), {
      runner: 'app-a',
      inconsistent: ['tei-9'],
      judgedAt: 'T',
    });
  });
});
