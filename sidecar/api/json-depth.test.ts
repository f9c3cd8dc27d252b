import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MAX_JSON_DEPTH, nestsTooDeep } from './json-depth.ts';

/** `levels` arrays and objects, alternating, one inside the other. */
function nested(levels: number): unknown {
  let value: unknown = 'leaf';
  for (let i = 0; i < levels; i++) value = i % 2 === 0 ? [value] : { k: value };
  return value;
}

test(`a value at level 1 may hold ${MAX_JSON_DEPTH} levels of arrays and objects, not one more`, () => {
  assert.equal(nestsTooDeep(nested(MAX_JSON_DEPTH), 1), false);
  assert.equal(nestsTooDeep(nested(MAX_JSON_DEPTH + 1), 1), true);
});

test('the starting level counts: the same value is too deep further down', () => {
  assert.equal(nestsTooDeep(nested(MAX_JSON_DEPTH - 2), 3), false);
  assert.equal(nestsTooDeep(nested(MAX_JSON_DEPTH - 1), 3), true);
});

test('scalars never nest, and 100,000 levels are rejected without overflowing the stack', () => {
  for (const scalar of ['s', 1, true, null]) assert.equal(nestsTooDeep(scalar, MAX_JSON_DEPTH + 5), false);
  assert.equal(nestsTooDeep(JSON.parse('['.repeat(100_000) + ']'.repeat(100_000)), 1), true);
});

test('a deep value behind a wide one is found, in arrays and under any key', () => {
  const wide = Array.from({ length: 1000 }, () => ({ a: 1 }));
  assert.equal(nestsTooDeep([...wide, nested(MAX_JSON_DEPTH)], 1), true);
  assert.equal(nestsTooDeep(JSON.parse(`{"__proto__":${JSON.stringify(nested(MAX_JSON_DEPTH))}}`), 1), true);
});
