import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LbError } from '../errors.ts';
import { parsePriority, parseTenant } from './flow-headers.ts';

test('x-reranker-priority: absent is the default, bounded integers pass', () => {
  assert.equal(parsePriority(undefined), undefined);
  assert.equal(parsePriority('-1'), -1);
  assert.equal(parsePriority('1000'), 1000);
  assert.equal(parsePriority('+5'), 5);
});

test('x-reranker-priority: anything else is a 400 naming the header', () => {
  for (const bad of ['', 'high', '1.5', '1001', '-1001', '99999999', '1e3', ' 1', '0x10']) {
    assert.throws(
      () => parsePriority(bad),
      (e: unknown) =>
        e instanceof LbError &&
        e.status === 400 &&
        e.field === 'x-reranker-priority' &&
        e.message.startsWith('x-reranker-priority'),
      JSON.stringify(bad),
    );
  }
});

test('x-reranker-tenant: a short plain name, else a 400 naming the header', () => {
  assert.equal(parseTenant('team-search.eu:1'), 'team-search.eu:1');
  for (const bad of ['', 'x'.repeat(65), 'a b', 'ünï', 'a/b']) {
    assert.throws(
      () => parseTenant(bad),
      (e: unknown) => e instanceof LbError && e.status === 400 && e.field === 'x-reranker-tenant',
      JSON.stringify(bad),
    );
  }
});
