import assert from 'node:assert/strict';
import { test } from 'node:test';
import { injectionStatus } from './injection.ts';

const pod = (name: string, version: string | undefined, over: { pool?: string; deleting?: boolean } = {}) => ({
  metadata: {
    name,
    namespace: 'app',
    labels: { 'reranker.dev/pool': over.pool ?? 'search' },
    annotations: (version === undefined ? {} : { 'reranker.dev/injected-version': version }) as Record<string, string>,
    ...(over.deleting ? { deletionTimestamp: '2026-11-27T10:00:00Z' } : {}),
  },
});
const POOL = { name: 'search', namespace: 'app' };

test('counts injected pods and those on the current version; names the others with their version', () => {
  const pods = [
    pod('b', '0.2.0'),
    pod('a', '0.1.0'),
    pod('c', '0.2.0'),
    pod('z', '0.1.0'),
    pod('manual', undefined),
    pod('other', '0.1.0', { pool: 'other' }),
    pod('leaving', '0.1.0', { deleting: true }),
  ];
  assert.deepEqual(injectionStatus(pods, POOL, '0.2.0'), {
    pods: 4,
    current: 2,
    version: '0.2.0',
    summary: '2/4',
    outdated: ['a (0.1.0)', 'z (0.1.0)'],
  });
});

test('a pool without injected pods has no injection status', () => {
  assert.equal(injectionStatus([pod('manual', undefined)], POOL, '0.2.0'), undefined);
});

test('the outdated list is bounded (20); the counts are not', () => {
  const pods = Array.from({ length: 30 }, (_, i) => pod(`p${String(i).padStart(2, '0')}`, '0.1.0'));
  const s = injectionStatus(pods, POOL, '0.2.0')!;
  assert.equal(s.outdated.length, 20);
  assert.equal(s.summary, '0/30');
});
