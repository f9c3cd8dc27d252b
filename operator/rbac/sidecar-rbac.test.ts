import assert from 'node:assert/strict';
import { test } from 'node:test';
import { desiredRole, desiredRoleBinding, grantsMatch, injectedServiceAccounts } from './sidecar-rbac.ts';

const POOL = { name: 'search', namespace: 'app', uid: 'u-1' };
const pod = (name: string, sa: string | undefined, over: { ns?: string; pool?: string; injected?: boolean } = {}) => ({
  metadata: {
    name,
    namespace: over.ns ?? 'app',
    labels: { 'reranker.dev/pool': over.pool ?? 'search' },
    annotations: (over.injected === false ? {} : { 'reranker.dev/injected-version': '0.1.0' }) as Record<
      string,
      string
    >,
  },
  spec: sa === undefined ? {} : { serviceAccountName: sa },
});

test('the service accounts of the pool\'s injected pods, once each; no account means "default"', () => {
  const pods = [
    pod('a', 'search-api'),
    pod('b', 'search-api'),
    pod('c', undefined),
    pod('d', 'other', { pool: 'other' }),
    pod('e', 'x', { ns: 'elsewhere' }),
    pod('f', 'manual', { injected: false }),
  ];
  assert.deepEqual(injectedServiceAccounts(POOL, pods), ['default', 'search-api']);
});

test("the Role reads exactly the pool's ConfigMap and its canary plan, and lists/watches EndpointSlices (never writes); both objects are owned by the pool", () => {
  const role = desiredRole(POOL);
  assert.deepEqual(role.rules, [
    {
      apiGroups: [''],
      resources: ['configmaps'],
      resourceNames: ['search-reranker-config', 'search-reranker-config-canary'],
      verbs: ['get', 'list', 'watch'],
    },
    { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['list', 'watch'] },
  ]);
  const binding = desiredRoleBinding(POOL, ['search-api']);
  assert.deepEqual(binding.subjects, [{ kind: 'ServiceAccount', name: 'search-api', namespace: 'app' }]);
  for (const o of [role, binding])
    assert.deepEqual(o.metadata.ownerReferences[0], {
      apiVersion: 'reranker.dev/v1alpha1',
      kind: 'RerankerPool',
      name: 'search',
      uid: 'u-1',
      controller: true,
      blockOwnerDeletion: true,
    });
});

test('grantsMatch: written only when the grants differ', () => {
  const binding = desiredRoleBinding(POOL, ['a', 'b']);
  assert.ok(grantsMatch({ ...binding, metadata: { resourceVersion: '7' } }, binding));
  assert.ok(!grantsMatch(desiredRoleBinding(POOL, ['a']), binding));
  assert.ok(!grantsMatch(undefined, binding));
  assert.ok(!grantsMatch({ ...desiredRole(POOL), rules: [] }, desiredRole(POOL)));
});
