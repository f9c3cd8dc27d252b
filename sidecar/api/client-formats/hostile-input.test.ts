/** Hostile request bodies found by review: each gets a 4xx naming the field, never a 500. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MAX_JSON_DEPTH } from '../json-depth.ts';
import { MAX_RANK_FIELDS } from '../rank-fields.ts';
import { handle, rejectedField, type Endpoint } from './handler-steps.testkit.ts';

/** `levels` arrays, one inside the other: `[[[]]]` is 3. */
function nestedArraysText(levels: number): string {
  return '['.repeat(levels) + ']'.repeat(levels);
}

function accepted(endpoint: Endpoint, body: unknown) {
  const outcome = handle(endpoint, body);
  if ('error' in outcome) assert.fail(`expected success, got ${String(outcome.error)}`);
  return outcome;
}

describe('hostile input: rank_fields', () => {
  test('an object as a rank field value is a 400 naming it (was a 500 from String())', () => {
    const body = JSON.parse('{"query":"q","documents":[{"t":{"toString":1}}],"rank_fields":["t"]}');
    assert.equal(rejectedField('cohere-v1', body), 'documents[0].t');
  });

  test('arrays and 1e400 (Infinity after JSON.parse) as values are 400s too', () => {
    assert.equal(
      rejectedField('cohere-v1', { query: 'q', documents: ['a', { t: [1] }], rank_fields: ['t'] }),
      'documents[1].t',
    );
    assert.equal(
      rejectedField('cohere-v1', JSON.parse('{"query":"q","documents":[{"n":1e400}],"rank_fields":["n"]}')),
      'documents[0].n',
    );
  });

  test('strings, numbers and booleans make the text; missing and null fields are left out', () => {
    const { request } = accepted('cohere-v1', {
      query: 'q',
      documents: [{ s: 'x', n: 2.5, b: false, z: null }],
      rank_fields: ['s', 'missing', 'n', 'z', 'b'],
    });
    assert.deepEqual(request.documents, ['s: x\nn: 2.5\nb: false']);
  });

  test('inherited names (toString, constructor, __proto__) are not fields of the document', () => {
    const { request } = accepted('cohere-v1', {
      query: 'q',
      documents: [{ title: 'T' }],
      rank_fields: ['toString', 'constructor', '__proto__', 'title'],
    });
    assert.deepEqual(request.documents, ['title: T']);
  });

  test(`more than ${MAX_RANK_FIELDS} rank_fields is a 400; repeats count once`, () => {
    const names = Array.from({ length: MAX_RANK_FIELDS + 1 }, (_v, i) => `f${i}`);
    assert.equal(
      rejectedField('cohere-v1', { query: 'q', documents: [{ f0: 'a' }], rank_fields: names }),
      'rank_fields',
    );
    const { request } = accepted('cohere-v1', {
      query: 'q',
      documents: [{ f0: 'a' }],
      rank_fields: names.slice(0, MAX_RANK_FIELDS),
    });
    assert.deepEqual(request.documents, ['f0: a']);
    const repeated = accepted('cohere-v1', { query: 'q', documents: [{ t: 'a' }], rank_fields: ['t', 't', 't'] });
    assert.deepEqual(repeated.request.documents, ['t: a']);
  });
});

describe(`hostile input: nesting (at most ${MAX_JSON_DEPTH} levels, the body is level 1)`, () => {
  const tenThousandDeep = `{"query":"q","documents":["a",{"text":"b","x":${nestedArraysText(10_000)}}],"return_documents":true}`;
  for (const endpoint of ['native', 'cohere-v1', 'jina'] as const) {
    test(`${endpoint}: a document 10,000 levels deep is a 400 naming it, before any rendering`, () => {
      assert.equal(rejectedField(endpoint, JSON.parse(tenThousandDeep)), 'documents[1]');
    });
  }

  test('a document reaching level 32 is echoed back; one reaching 33 is a 400', () => {
    // body 1, documents 2, the document 3, x 4: x with k levels reaches level 3 + k.
    const atLimit = `{"query":"q","documents":[{"text":"b","x":${nestedArraysText(MAX_JSON_DEPTH - 3)}}],"return_documents":true}`;
    const outcome = accepted('cohere-v1', JSON.parse(atLimit));
    assert.ok(outcome.json.includes(nestedArraysText(MAX_JSON_DEPTH - 3)));
    const overLimit = atLimit.replace('"x":', '"x":[').replace('}]', ']}]');
    assert.equal(rejectedField('cohere-v1', JSON.parse(overLimit)), 'documents[0]');
  });

  test('deep values in fields that are not read are ignored, as any unknown field', () => {
    accepted('native', JSON.parse(`{"query":"q","documents":["a"],"extra":${nestedArraysText(10_000)}}`));
  });
});

describe('hostile input: numbers, shapes, keys and strings', () => {
  const cases: [string, Endpoint, string, string][] = [
    ['top_n 1e400 (Infinity)', 'native', '{"query":"q","documents":["a"],"top_n":1e400}', 'top_n'],
    ['top_n 1e300 (an integer to JavaScript)', 'cohere-v1', '{"query":"q","documents":["a"],"top_n":1e300}', 'top_n'],
    ['top_n 2^53', 'jina', '{"query":"q","documents":["a"],"top_n":9007199254740992}', 'top_n'],
    ['top_n as a float', 'cohere-v2', '{"query":"q","documents":["a"],"top_n":2.000001}', 'top_n'],
    ['top_n negative zero', 'native', '{"query":"q","documents":["a"],"top_n":-0}', 'top_n'],
    [
      'max_tokens_per_doc 1e400',
      'cohere-v2',
      '{"query":"q","documents":["a"],"max_tokens_per_doc":1e400}',
      'max_tokens_per_doc',
    ],
    [
      'max_chunks_per_doc as an array',
      'cohere-v1',
      '{"query":"q","documents":["a"],"max_chunks_per_doc":[1]}',
      'max_chunks_per_doc',
    ],
    ['documents as an object', 'native', '{"query":"q","documents":{"0":"a"}}', 'documents'],
    ['a document as an array', 'jina', '{"query":"q","documents":[["a"]]}', 'documents[0]'],
    ['text as an object', 'jina', '{"query":"q","documents":[{"text":{"toString":1}}]}', 'documents[0].text'],
    ['texts as an object', 'tei', '{"query":"q","texts":{"length":1}}', 'texts'],
    ['query as an array', 'tei', '{"query":["q"],"texts":["a"]}', 'query'],
    ['rank_fields as a string', 'cohere-v1', '{"query":"q","documents":["a"],"rank_fields":"t"}', 'rank_fields'],
    ['the body as an array', 'rerank', '[{"query":"q","documents":["a"]}]', 'body'],
    ['the body as a string', 'cohere-v1', '"q"', 'body'],
    ['only a __proto__ key holding the fields', 'rerank', '{"__proto__":{"query":"q","documents":["a"]}}', 'documents'],
    ['model as an object', 'jina', '{"model":{},"query":"q","documents":["a"]}', 'model'],
  ];
  for (const [name, endpoint, json, field] of cases) {
    test(`400 naming ${field}: ${name}`, () => {
      assert.equal(rejectedField(endpoint, JSON.parse(json)), field);
    });
  }

  test('an own __proto__ key is data: ignored, and no prototype changes', () => {
    const body = JSON.parse('{"__proto__":{"polluted":true},"query":"q","documents":["a"]}');
    accepted('native', body);
    assert.equal(({} as { polluted?: boolean }).polluted, undefined);
  });

  test('lone surrogates pass through and render as valid JSON', () => {
    const { json } = accepted('native', { query: 'q\ud800', documents: ['\udc00a', 'b'] });
    assert.deepEqual(
      JSON.parse(json).results.map((r: { document: string }) => r.document),
      ['\udc00a', 'b'],
    );
  });

  test('100,000 string documents are used as sent, without a copy', () => {
    const documents = Array.from({ length: 100_000 }, (_v, i) => `d${i}`);
    const body = { query: 'q', documents, top_n: 3 };
    const { request, json } = accepted('native', body);
    assert.equal(request.documents, documents);
    assert.equal(JSON.parse(json).results.length, 3);
  });
});
