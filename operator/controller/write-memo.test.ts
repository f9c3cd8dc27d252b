import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WriteMemo } from './write-memo.ts';

test('our own write stands in for the cache until the cache has seen it', () => {
  const table: [string, string | undefined, string, string][] = [
    // [case, cached resourceVersion, cached value, value to compare against]
    ['cache still shows the version our write replaced', '10', 'old', 'ours'],
    ['cache has caught up', '11', 'ours (from cache)', 'ours (from cache)'],
    ['someone else wrote since', '12', 'theirs', 'theirs'],
  ];
  for (const [name, rv, cached, want] of table) {
    const memo = new WriteMemo<string>();
    memo.remember('ns/p', '10', '11', 'ours');
    assert.equal(memo.view('ns/p', rv, cached), want, name);
  }
});

test('a created object: the cache does not have it yet', () => {
  const memo = new WriteMemo<string | undefined>();
  memo.remember('ns/p', undefined, '1', 'hash-a');
  assert.equal(memo.view('ns/p', undefined, undefined), 'hash-a');
  assert.equal(memo.view('ns/p', '1', 'hash-a'), 'hash-a');
  assert.equal(memo.size, 0, 'forgotten once the cache caught up');
});

test("two writes before the cache saw the first: the first write's result is older than ours, not someone else's", () => {
  const memo = new WriteMemo<string>();
  memo.remember('ns/p', '5', '6', 'first'); // applied from the cache's version 5
  memo.remember('ns/p', '5', '7', 'second'); // the cache still showed 5
  assert.equal(memo.view('ns/p', '5', 'base'), 'second');
  assert.equal(memo.view('ns/p', '6', 'first'), 'second', 'the cache caught up with the first write only');
  assert.equal(memo.view('ns/p', '8', 'theirs'), 'theirs', 'someone else wrote since');
  assert.equal(memo.view('ns/p', '7', 'second'), 'second');
  assert.equal(memo.size, 0, 'forgotten once the cache caught up with the last write');
});
