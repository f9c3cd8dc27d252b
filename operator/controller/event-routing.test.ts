import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  configMapNeedsReconcile,
  poolsForPod,
  poolsForService,
  selects,
  selectsSidecar,
  type RoutablePod,
  type RoutablePool,
} from './event-routing.ts';

function pool(name: string, ns: string, selector?: Record<string, string>, services: string[] = []): RoutablePool {
  return {
    metadata: { name, namespace: ns },
    spec: {
      sidecarSelector: selector === undefined ? undefined : { matchLabels: selector },
      discovery: services.map((service) => ({ service })),
    },
  };
}

function pod(
  labels: Record<string, string>,
  ip = '10.0.0.1',
  ns = 'a',
  extra: Partial<RoutablePod['metadata']> = {},
): RoutablePod {
  return {
    metadata: { name: 'p', namespace: ns, labels: { 'reranker.dev/sidecar': 'true', ...labels }, ...extra },
    status: { podIP: ip, phase: 'Running' },
  };
}

describe('pod events reach only the pools that select the pod', () => {
  // 200 pools, each selecting its own app; one other namespace with the same labels.
  const pools = [
    ...Array.from({ length: 200 }, (_, i) => pool(`p${i}`, 'a', { app: `app-${i}` }, ['tei'])),
    pool('other-ns', 'b', { app: 'app-1' }),
    pool('no-selector', 'a'),
  ];
  const table: [string, RoutablePod, RoutablePod | undefined, string[]][] = [
    ['a pod matching no pool: no reconcile', pod({ app: 'nobody' }), undefined, []],
    ['a new pod: the pool selecting it', pod({ app: 'app-7' }), undefined, ['a/p7']],
    [
      'relabelled: the pool it left and the pool it joined',
      pod({ app: 'app-8' }),
      pod({ app: 'app-7' }),
      ['a/p7', 'a/p8'],
    ],
    ['IP assigned: its pool', pod({ app: 'app-7' }, '10.0.0.2'), pod({ app: 'app-7' }, '10.0.0.1'), ['a/p7']],
    ['a status change the reconcile does not read: nothing', pod({ app: 'app-7' }), pod({ app: 'app-7' }), []],
    [
      'being deleted: its pool',
      pod({ app: 'app-7' }, '10.0.0.1', 'a', { deletionTimestamp: 'T' }),
      pod({ app: 'app-7' }),
      ['a/p7'],
    ],
    ['other namespace: only pools there', pod({ app: 'app-1' }, '10.0.0.1', 'b'), undefined, ['b/other-ns']],
    [
      'an injected pod: the pool its reranker.dev/pool label names (status.injection)',
      pod({ app: 'nobody', 'reranker.dev/pool': 'no-selector' }),
      undefined,
      ['a/no-selector'],
    ],
  ];
  for (const [name, now, before, want] of table)
    test(name, () => assert.deepEqual(poolsForPod(pools, now, before).sort(), want));

  test('20 pods matching no pool, each updated 20 times, among 200 pools: 0 reconciles (was 8,000)', () => {
    let enqueued = 0;
    for (let p = 0; p < 20; p++) {
      let previous: RoutablePod | undefined;
      for (let u = 0; u < 20; u++) {
        const current = pod({ app: 'batch-job', rev: String(u) }, `10.1.0.${p}`);
        enqueued += poolsForPod(pools, current, previous).length;
        previous = current;
      }
    }
    assert.equal(enqueued, 0);
  });
});

test('a Service or its slices reach only the pools in its namespace that discover it', () => {
  const pools = [
    pool('x', 'a', undefined, ['tei']),
    pool('y', 'a', undefined, ['other']),
    pool('z', 'b', undefined, ['tei']),
  ];
  assert.deepEqual(poolsForService(pools, 'a', 'tei'), ['a/x']);
  assert.deepEqual(poolsForService(pools, 'a', undefined), []);
});

test('sidecarSelector is a full label selector: matchLabels and matchExpressions must all hold', () => {
  const labels = { app: 'search', tier: 'api' };
  const expr = (operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist', key: string, values?: string[]) => ({
    matchExpressions: [{ key, operator, values }],
  });
  assert.equal(selects(expr('In', 'tier', ['api', 'web']), labels), true);
  assert.equal(selects(expr('In', 'tier', ['web']), labels), false);
  assert.equal(selects(expr('NotIn', 'tier', ['web']), labels), true);
  assert.equal(selects(expr('NotIn', 'zone', ['a']), labels), true, 'NotIn holds when the key is absent');
  assert.equal(selects(expr('Exists', 'app'), labels), true);
  assert.equal(selects(expr('DoesNotExist', 'app'), labels), false);
  assert.equal(
    selects({ matchLabels: { app: 'search' }, ...expr('In', 'tier', ['web']) }, labels),
    false,
    'both parts must hold',
  );
  assert.equal(selects({}, labels), true, 'an empty selector selects every sidecar pod');
  assert.equal(selects(undefined, labels), false, 'no selector selects nothing');
  const pool: RoutablePool = {
    metadata: { name: 'p', namespace: 'ns' },
    spec: { sidecarSelector: expr('In', 'tier', ['api']) },
  };
  assert.deepEqual(poolsForPod([pool], { metadata: { name: 'pod', namespace: 'ns', labels } }, undefined), ['ns/p']);
});

test('a broad selector never counts a sidecar injected for another pool', () => {
  const labels = (pool?: string) => ({
    'reranker.dev/sidecar': 'true',
    app: 'search',
    ...(pool === undefined ? {} : { 'reranker.dev/pool': pool }),
  });
  assert.equal(selectsSidecar({}, 'search', labels('other')), false);
  assert.equal(
    selectsSidecar({ matchExpressions: [{ key: 'app', operator: 'Exists' }] }, 'search', labels('other')),
    false,
  );
  assert.equal(selectsSidecar({}, 'search', labels('search')), true);
  assert.equal(
    selectsSidecar({ matchLabels: { app: 'search' } }, 'search', labels()),
    true,
    'a hand-wired sidecar has no pool label',
  );
});

describe('configMapNeedsReconcile', () => {
  const ours = (hash: string | undefined): Parameters<typeof configMapNeedsReconcile>[1] => ({
    metadata: {
      name: 'search-reranker-config',
      annotations: hash === undefined ? {} : { 'reranker.dev/config-hash': hash },
    },
    dataHash: hash,
  });

  test('a ConfigMap the status names, or that a reconcile is about to report, needs nothing', () => {
    assert.equal(configMapNeedsReconcile('updated', ours('h8'), 'h8', undefined), false);
    assert.equal(configMapNeedsReconcile('updated', ours('h8'), 'h7', 'h8'), false);
  });

  test('one of ours the status does not name (the reconcile that applied it ended before its status write) brings the pool back', () => {
    assert.equal(configMapNeedsReconcile('updated', ours('h8'), 'h7', undefined), true);
    assert.equal(configMapNeedsReconcile('added', ours('h8'), undefined, 'h7'), true);
  });

  test('deletions and edits by others are repaired; the canary plan ConfigMap (no config) is left alone', () => {
    assert.equal(configMapNeedsReconcile('deleted', ours('h8'), 'h8', undefined), true);
    assert.equal(configMapNeedsReconcile('updated', { ...ours('h8'), dataHash: 'edited' }, 'h8', undefined), true);
    assert.equal(configMapNeedsReconcile('updated', ours(undefined), 'h8', undefined), false);
  });
});
