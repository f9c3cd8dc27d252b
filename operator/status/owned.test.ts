import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Condition, PoolStatus } from '../crd/pool-schema.ts';
import { holdsOwn, ownPart, strayFields } from './owned.ts';

const c = (type: string, status: Condition['status'] = 'True'): Condition => ({
  type,
  status,
  reason: 'R',
  message: 'm',
  lastTransitionTime: 'T0',
  observedGeneration: 1,
});
const ours: PoolStatus = {
  observedGeneration: 1,
  conditions: [c('Ready'), c('ConfigRendered')],
  configMapName: 'p-reranker-config',
};

describe("the operator's part of a pool status", () => {
  test('a foreign condition, and our conditions in another order, make no difference', () => {
    const stored: PoolStatus = { ...ours, conditions: [c('ExternalCheck', 'False'), c('ConfigRendered'), c('Ready')] };
    assert.ok(holdsOwn(stored, ours));
    assert.deepEqual(
      ownPart(stored, ours).conditions!.map((x) => x.type),
      ['ConfigRendered', 'Ready'],
    );
  });

  const table: [string, PoolStatus | undefined][] = [
    ['nothing stored yet', undefined],
    ['one of our conditions changed', { ...ours, conditions: [c('Ready', 'False'), c('ConfigRendered')] }],
    ['one of our conditions is missing', { ...ours, conditions: [c('Ready')] }],
    ['a field we no longer set is still there', { ...ours, inconsistentBackends: ['tei-2'] }],
    ['a field we set differs', { ...ours, configMapName: 'other' }],
  ];
  for (const [name, stored] of table) test(`a write is due: ${name}`, () => assert.ok(!holdsOwn(stored, ours)));

  test("stray fields: ours, stored, no longer set; never another manager's conditions", () => {
    const stored: PoolStatus = {
      ...ours,
      conditions: [...ours.conditions!, c('ExternalCheck')],
      inconsistentBackends: ['tei-2'],
      injection: { pods: 1, current: 1, version: 'v1', summary: '1/1', outdated: [] },
    };
    assert.deepEqual(strayFields(stored, ours), ['inconsistentBackends', 'injection']);
    assert.deepEqual(strayFields(ours, ours), []);
  });
});
