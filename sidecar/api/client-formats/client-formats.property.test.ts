/**
 * Property tests: any JSON in any field, or any whole body, either parses into a well-formed request
 * that renders to JSON, or is a 4xx LbError naming a field. Never anything else (a 500).
 * The seed is fixed so a run is repeatable; FAST_CHECK_SEED=<n> explores other cases.
 */
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { MAX_JSON_DEPTH } from '../json-depth.ts';
import { assertClientError, assertWellFormed, ENDPOINTS, handle, type Endpoint } from './handler-steps.testkit.ts';

const SEED = process.env.FAST_CHECK_SEED === undefined ? 20261127 : Number(process.env.FAST_CHECK_SEED);
const NUM_RUNS = 300;

const loneSurrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((code) => String.fromCharCode(code));
const hostileString = fc.oneof(
  fc.string(),
  fc.string({ unit: fc.oneof(fc.constantFrom('a', ' ', '\u0000'), loneSurrogate) }),
  fc.constantFrom('', ' ', 'text', '__proto__', 'toString', 'constructor', 'q'),
);
const hostileNumber = fc.oneof(
  fc.integer({ min: -3, max: 5 }),
  fc.double({ noNaN: true }),
  fc.constantFrom(-0, 0.5, 1.5, 2 ** 53, 2 ** 53 + 2, 1e300, Number.MAX_VALUE, Infinity, -Infinity),
);
const hostileKey = fc.oneof(
  fc.string({ maxLength: 4 }),
  fc.constantFrom('text', 'title', '__proto__', 'toString', 'valueOf', 'constructor', 'length'),
);
const scalar = fc.oneof(fc.constant(null), fc.boolean(), hostileNumber, hostileString);

/** Arrays and objects, with a few far deeper than the limit. */
const { value: jsonish } = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    scalar,
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(hostileKey, tie('value'), { maxKeys: 4 }),
  ),
}));
const tooDeep = fc.integer({ min: MAX_JSON_DEPTH - 4, max: 2_000 }).map(function nest(levels) {
  let value: unknown = 'leaf';
  for (let i = 0; i < levels; i++) value = i % 2 === 0 ? [value] : { text: 'x', k: value };
  return value;
});
const anyValue = fc.oneof({ weight: 6, arbitrary: jsonish }, { weight: 1, arbitrary: tooDeep });

/** A body every format accepts, give or take a document without `text`: the base that one hostile field spoils. */
const plausibleFields = {
  query: fc.oneof(
    fc.constant('capital of France'),
    hostileString.filter((s) => s.trim() !== ''),
  ),
  documents: fc.array(
    fc.oneof(
      { weight: 4, arbitrary: hostileString },
      { weight: 4, arbitrary: fc.record({ text: hostileString }) },
      { weight: 1, arbitrary: fc.dictionary(hostileKey, scalar, { maxKeys: 4 }) },
    ),
    { minLength: 1, maxLength: 6 },
  ),
  texts: fc.array(hostileString, { minLength: 1, maxLength: 6 }),
  top_n: fc.integer({ min: 1, max: 8 }),
  max_tokens_per_doc: fc.integer({ min: 1, max: 512 }),
  max_chunks_per_doc: fc.integer({ min: 1, max: 10 }),
  rank_fields: fc.array(hostileKey, { minLength: 1, maxLength: 5 }),
  return_documents: fc.boolean(),
  return_text: fc.boolean(),
  raw_scores: fc.boolean(),
  truncate: fc.boolean(),
  truncation_direction: fc.constantFrom('Left', 'Right'),
  model: hostileString,
};
type FieldName = keyof typeof plausibleFields;
const FIELD_NAMES = Object.keys(plausibleFields) as FieldName[];
const plausibleBody = fc.record(plausibleFields, { requiredKeys: ['query', 'documents', 'texts'] });

/** A plausible body with one field replaced by any value, or removed. */
const oneHostileField = fc
  .tuple(plausibleBody, fc.constantFrom(...FIELD_NAMES), fc.option(anyValue, { nil: undefined }))
  .map(function spoil([base, field, value]) {
    const body: Record<string, unknown> = { ...base };
    if (value === undefined) delete body[field];
    else body[field] = value;
    return body;
  });
/** Any value in every field, each present or not, plus an own `__proto__` key. */
const anyValueInEveryField = fc.record(
  Object.fromEntries([...FIELD_NAMES, '__proto__'].map((name) => [name, anyValue])),
  { requiredKeys: [] },
);
const wholeBody = fc.oneof(anyValue, fc.dictionary(fc.oneof(hostileKey, fc.constantFrom(...FIELD_NAMES)), anyValue));

const BODIES: readonly [string, fc.Arbitrary<unknown>][] = [
  ['one hostile field in a plausible body', oneHostileField],
  ['any value in every field', anyValueInEveryField],
  ['any whole body', wholeBody],
];

function acceptsOrNamesTheField(endpoint: Endpoint, body: unknown): void {
  const outcome = handle(endpoint, body);
  if ('error' in outcome) assertClientError(outcome.error);
  else assertWellFormed(outcome.request);
}

describe('any JSON in the request: a well-formed request or a 4xx naming the field', () => {
  for (const endpoint of ENDPOINTS) {
    for (const [name, bodies] of BODIES) {
      test(`${endpoint}: ${name}`, () => {
        fc.assert(
          fc.property(bodies, (body) => acceptsOrNamesTheField(endpoint, body)),
          { seed: SEED, numRuns: NUM_RUNS },
        );
      });
    }
  }
});
