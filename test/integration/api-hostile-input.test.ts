/** Hostile request bodies through the real sidecar: a 400 naming the field, and no backend call. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { post, startPool, type Pool } from '../support/harness.ts';

let p: Pool;
before(async () => {
  p = await startPool([{ name: 'a' }], { fallback_to_local: true });
});
after(() => p.close());

function backendCalls(): number {
  return p.fakes.a!.stats.requests + p.local.stats.requests;
}

const nested = (levels: number) => '['.repeat(levels) + ']'.repeat(levels);

describe('hostile request bodies', () => {
  const cases: [string, string, string, string][] = [
    [
      'an object as a rank field value',
      '/v1/rerank',
      '{"query":"q","documents":[{"t":{"toString":1}}],"rank_fields":["t"]}',
      'documents[0].t',
    ],
    [
      'a document 10,000 levels deep, echoed',
      '/v1/rerank',
      `{"query":"q","documents":["a",{"text":"b","x":${nested(10_000)}}],"return_documents":true}`,
      'documents[1]',
    ],
    [
      'a document 10,000 levels deep, native',
      '/rerank',
      `{"query":"q","documents":[{"text":"b","x":${nested(10_000)}}]}`,
      'documents[0]',
    ],
    ['top_n 1e400', '/api/v1/rerank', '{"query":"q","documents":["a"],"top_n":1e400}', 'top_n'],
    ['top_n 1e300', '/v2/rerank', '{"query":"q","documents":["a"],"top_n":1e300}', 'top_n'],
    [
      'a rank field of 1e400',
      '/lb/v1/rerank',
      '{"query":"q","documents":[{"n":1e400}],"rank_fields":["n"]}',
      'documents[0].n',
    ],
    ['TEI texts as an object', '/rerank', '{"query":"q","texts":{"0":"a"}}', 'texts'],
    ['the body as an array', '/rerank', '[]', 'body'],
  ];
  for (const [name, path, json, field] of cases) {
    test(`${path}: ${name} -> 400 naming ${field}, no backend call`, async () => {
      const before = backendCalls();
      const reply = await post(p.url, path, json);
      assert.equal(reply.status, 400);
      assert.equal(reply.body.error.code, 'invalid_request');
      assert.equal(reply.body.error.field, field);
      assert.equal(backendCalls(), before);
    });
  }

  test('lone surrogates are ranked and echoed as sent', async () => {
    const reply = await post(
      p.url,
      '/rerank',
      '{"query":"capital \\ud800","documents":["\\udc00 Paris","Berlin"],"top_n":2}',
    );
    assert.equal(reply.status, 200);
    assert.deepEqual(reply.body.results.map((r: { document: string }) => r.document).sort(), [
      'Berlin',
      '\udc00 Paris',
    ]);
  });
});
