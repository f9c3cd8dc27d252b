import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { LbError } from '../../errors.ts';
import type { RankedAnswer } from '../canonical.ts';
import { CLIENT_CODECS, formatOfRerankPath } from './index.ts';

const answer: RankedAnswer = {
  results: [
    { index: 1, score: 0.9 },
    { index: 0, score: 0.2 },
  ],
  model: 'm',
  tokens: 12,
  usageSource: 'body',
};

function fieldOf(run: () => unknown): string | undefined {
  try {
    run();
  } catch (error) {
    assert.ok(error instanceof LbError);
    assert.equal(error.status, 400);
    return error.field;
  }
  assert.fail('expected a 400');
}

describe('client formats', () => {
  test('/rerank with texts is TEI, with documents is native', () => {
    assert.equal(formatOfRerankPath({ query: 'q', texts: ['a'] }), 'tei');
    assert.equal(formatOfRerankPath({ query: 'q', documents: ['a'] }), 'native');
  });

  test('native: documents echoed as strings by default', () => {
    const req = CLIENT_CODECS.native.parse({ query: 'q', documents: ['a', 'b'] });
    assert.deepEqual(CLIENT_CODECS.native.render(req, answer, 'id'), {
      results: [
        { index: 1, relevance_score: 0.9, document: 'b' },
        { index: 0, relevance_score: 0.2, document: 'a' },
      ],
    });
  });

  test('TEI: bare array with score, text only when asked', () => {
    const req = CLIENT_CODECS.tei.parse({ query: 'q', texts: ['a', 'b'], raw_scores: true, truncate: true });
    assert.equal(req.rawScores, true);
    assert.deepEqual(CLIENT_CODECS.tei.render(req, answer, 'id'), [
      { index: 1, score: 0.9 },
      { index: 0, score: 0.2 },
    ]);
  });

  test('Cohere v1: no documents by default; objects echoed as sent; rank_fields build the text', () => {
    const plain = CLIENT_CODECS['cohere-v1'].parse({ model: 'rerank-v3.5', query: 'q', documents: ['a', 'b'] });
    assert.deepEqual(CLIENT_CODECS['cohere-v1'].render(plain, answer, 'id-1'), {
      id: 'id-1',
      model: 'm', // what the backend says it served
      results: [
        { index: 1, relevance_score: 0.9 },
        { index: 0, relevance_score: 0.2 },
      ],
      meta: { api_version: { version: '1' }, billed_units: { search_units: 1 } },
      usage: { total_tokens: answer.tokens ?? 0 },
    });
    const objects = CLIENT_CODECS['cohere-v1'].parse({
      query: 'q',
      documents: [{ title: 'T', body: 'B' }, 'x'],
      rank_fields: ['title', 'body'],
      return_documents: true,
    });
    assert.equal(objects.documents[0], 'title: T\nbody: B');
    const rendered = CLIENT_CODECS['cohere-v1'].render(objects, answer, 'id') as { results: { document: unknown }[] };
    assert.deepEqual(rendered.results[0]!.document, { text: 'x' });
    assert.deepEqual(rendered.results[1]!.document, { title: 'T', body: 'B' });
  });

  test('Cohere v2: never returns documents, says version 2', () => {
    const req = CLIENT_CODECS['cohere-v2'].parse({
      model: 'm',
      query: 'q',
      documents: ['a', 'b'],
      max_tokens_per_doc: 512,
    });
    const rendered = CLIENT_CODECS['cohere-v2'].render(req, answer, 'id') as {
      results: object[];
      meta: { api_version: { version: string } };
    };
    assert.equal(rendered.meta.api_version.version, '2');
    assert.ok(rendered.results.every((r) => !('document' in r)));
  });

  test('Jina: documents as {text} by default, usage.total_tokens from the answer', () => {
    const req = CLIENT_CODECS.jina.parse({
      model: 'jina-reranker-v2',
      query: 'q',
      documents: [{ text: 'a' }, { text: 'b' }],
    });
    assert.deepEqual(CLIENT_CODECS.jina.render(req, answer, 'id'), {
      model: 'm',
      usage: { total_tokens: 12 },
      results: [
        { index: 1, relevance_score: 0.9, document: { text: 'b' } },
        { index: 0, relevance_score: 0.2, document: { text: 'a' } },
      ],
    });
  });

  const bad: [string, keyof typeof CLIENT_CODECS, unknown, string][] = [
    ['missing query', 'native', { documents: ['a'] }, 'query'],
    ['blank query', 'cohere-v1', { query: '  ', documents: ['a'] }, 'query'],
    ['query not a string', 'jina', { query: 3, documents: ['a'] }, 'query'],
    ['no documents', 'native', { query: 'q' }, 'documents'],
    ['empty documents', 'cohere-v2', { query: 'q', documents: [] }, 'documents'],
    ['document of the wrong type', 'native', { query: 'q', documents: ['a', 5] }, 'documents[1]'],
    ['object without text', 'jina', { query: 'q', documents: [{ txt: 'a' }] }, 'documents[0].text'],
    ['top_n zero', 'native', { query: 'q', documents: ['a'], top_n: 0 }, 'top_n'],
    ['top_n fractional', 'cohere-v1', { query: 'q', documents: ['a'], top_n: 1.5 }, 'top_n'],
    ['top_n as string', 'jina', { query: 'q', documents: ['a'], top_n: '2' }, 'top_n'],
    [
      'return_documents not boolean',
      'native',
      { query: 'q', documents: ['a'], return_documents: 'yes' },
      'return_documents',
    ],
    ['TEI texts of the wrong type', 'tei', { query: 'q', texts: [1] }, 'texts[0]'],
    [
      'TEI truncation direction',
      'tei',
      { query: 'q', texts: ['a'], truncation_direction: 'up' },
      'truncation_direction',
    ],
  ];
  for (const [name, format, body, field] of bad) {
    test(`400 naming the field: ${name}`, () => {
      assert.equal(
        fieldOf(() => CLIENT_CODECS[format].parse(body as Record<string, unknown>)),
        field,
      );
    });
  }
});
