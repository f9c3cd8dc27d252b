/** Splitting and merging, as tables: what a caller would see in chunk boundaries and the merged answer. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { plainRequest, type RankedAnswer, type RerankRequest } from '../api/canonical.ts';
import {
  chunkRequest,
  limitsOf,
  mayNeedSplit,
  mergeAnswers,
  modelGroup,
  planChunks,
  UNLIMITED,
  type CallLimits,
} from './split-plan.ts';

function request(documents: number, over: Partial<RerankRequest> = {}, text = 'abcd'): RerankRequest {
  // 'qqqq': 1 token per document
  return {
    ...plainRequest(
      'qqqq',
      Array.from({ length: documents }, () => text),
    ),
    returnDocuments: true,
    ...over,
  };
}

const limits = (maxDocuments = Infinity, maxTokens = Infinity): CallLimits => ({ maxDocuments, maxTokens });
const spans = (chunks: { start: number; end: number }[]) => chunks.map((c) => `${c.start}-${c.end}`).join(' ');

describe('planChunks', () => {
  const cases: [string, number, CallLimits, number, string][] = [
    ['within the limit: one chunk', 32, limits(32), 1, '0-32'],
    ['over a document limit: as few chunks as fit, of even size', 100, limits(32), 1, '0-25 25-50 50-75 75-100'],
    ['exactly twice the limit', 64, limits(32), 1, '0-32 32-64'],
    ['sharded over 3 backends within limits', 600, UNLIMITED, 3, '0-200 200-400 400-600'],
    ['sharding never exceeds a limit', 600, limits(100), 3, '0-100 100-200 200-300 300-400 400-500 500-600'],
    ['more shards than documents: one document each', 2, UNLIMITED, 5, '0-1 1-2'],
    // 2 tokens per document (1 query + 1 text): 5 documents per 10 tokens
    ['over a token limit: chunks close before the limit', 12, limits(Infinity, 10), 1, '0-5 5-10 10-12'],
    ['both limits: the tighter one decides', 12, limits(4, 10), 1, '0-4 4-8 8-12'],
  ];
  for (const [name, n, lim, shards, want] of cases) {
    test(name, () => assert.equal(spans(planChunks(request(n), lim, shards)), want));
  }

  test('a single document over the token limit goes alone (the backend decides)', () => {
    const r = request(3);
    const big = { ...r, documents: ['a', 'x'.repeat(400), 'b'] };
    assert.equal(spans(planChunks(big, limits(Infinity, 10), 1)), '0-1 1-2 2-3');
  });

  test('chunk costs add up to the call estimate', () => {
    const chunks = planChunks(request(100), limits(32), 1);
    assert.equal(
      chunks.reduce((s, c) => s + c.cost, 0),
      200,
    );
  });
});

describe('mayNeedSplit (the hot-path gate)', () => {
  const cases: [string, number, number, CallLimits, number | undefined, boolean][] = [
    ['no limits, no sharding', 1000, 5000, UNLIMITED, undefined, false],
    ['within a document limit', 32, 100, limits(32), undefined, false],
    ['over a document limit', 33, 100, limits(32), undefined, true],
    ['over a token limit', 10, 200, limits(Infinity, 100), undefined, true],
    ['one document over a token limit is not split', 1, 200, limits(Infinity, 100), undefined, false],
    ['at shard_min_documents', 600, 600, UNLIMITED, 600, true],
    ['below shard_min_documents', 599, 600, UNLIMITED, 600, false],
  ];
  for (const [name, docs, cost, lim, shardMin, want] of cases)
    test(name, () => assert.equal(mayNeedSplit(docs, cost, lim, shardMin), want));
});

describe('limits and model groups', () => {
  const b = (maxDocumentsPerCall: number | undefined, model?: string, maxTokensPerCall?: number) => ({
    spec: { maxDocumentsPerCall, maxTokensPerCall, model },
  });
  test('the tightest limit of the backends a chunk may fail over to', () => {
    assert.deepEqual(limitsOf([b(32), b(1000), b(undefined, undefined, 500)]), { maxDocuments: 32, maxTokens: 500 });
    assert.equal(limitsOf([b(undefined), b(undefined)]), UNLIMITED);
  });
  test('a split call stays with backends of the chosen backend’s configured model', () => {
    const [x, y, z] = [b(32, 'bge-v2'), b(32, 'bge-v1'), b(32, 'bge-v2')];
    assert.deepEqual(modelGroup([x, y, z], z), [x, z]);
    assert.deepEqual(modelGroup([x, y, z], y), [y]);
  });
});

describe('chunkRequest and mergeAnswers', () => {
  test('a chunk carries its documents and the caller’s top_n, capped at its size', () => {
    const r = request(10, { topN: 6, originals: Array.from({ length: 10 }, () => ({ text: 'abcd' })) });
    const c = chunkRequest(r, { start: 5, end: 9, cost: 8 });
    assert.deepEqual([c.documents.length, c.topN, c.originals, c.returnDocuments], [4, 4, undefined, false]);
  });

  test('indices map back to the caller’s, scores sorted best first, top_n applied once, usage summed', () => {
    const answer = (
      results: [number, number][],
      tokens: number,
      usageSource: RankedAnswer['usageSource'] = 'body',
    ): RankedAnswer => ({
      results: results.map(([index, score]) => ({ index, score })),
      model: 'm',
      tokens,
      usageSource,
    });
    const chunks = [
      { start: 0, end: 3, cost: 6 },
      { start: 3, end: 6, cost: 6 },
    ];
    const merged = mergeAnswers(
      chunks,
      [
        answer(
          [
            [2, 0.9],
            [0, 0.5],
            [1, 0.1],
          ],
          10,
        ),
        answer(
          [
            [0, 0.95],
            [2, 0.5],
            [1, 0.2],
          ],
          12,
          'estimate',
        ),
      ],
      4,
    );
    assert.deepEqual(
      merged.results.map((r) => [r.index, r.score]),
      [
        [3, 0.95],
        [2, 0.9],
        [0, 0.5],
        [5, 0.5],
      ],
    );
    assert.deepEqual([merged.tokens, merged.usageSource, merged.model], [22, 'estimate', 'm']);
  });
});
