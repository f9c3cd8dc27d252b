import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { plainRequest, type RerankRequest } from '../api/canonical.ts';
import { API_FORMATS } from '../../common/config-schema.ts';
import { answerFor } from '../../test/fake-reranker/fake-reranker.ts';
import { AttemptError, classifyStatus, isCancelled, type AttemptVerdict } from './attempt-error.ts';
import { MalformedAnswer } from './formats/read-answer.ts';
import { BACKEND_CODECS } from './formats/index.ts';
import { rankAnswer } from './rank.ts';

const request: RerankRequest = {
  ...plainRequest('capital of france', ['berlin germany', 'paris is the capital of france', 'rome']),
  topN: 2,
  returnDocuments: true,
};

describe('backend formats', () => {
  for (const format of API_FORMATS) {
    test(`${format}: a real-shaped answer reads into the same ranking`, () => {
      const codec = BACKEND_CODECS[format];
      const body = codec.buildBody(request, 'm') as Record<string, unknown>;
      assert.equal(body.top_n, undefined, 'top_n is applied by the sidecar, never sent');
      const wire = answerFor(format, 'x', request.query, [...request.documents]);
      const ranked = rankAnswer(
        codec.readAnswer(JSON.parse(JSON.stringify(wire.body)), wire.headers['x-compute-tokens']),
        3,
        2,
      );
      assert.deepEqual(
        ranked.results.map((r) => r.index),
        [1, 0],
      );
    });
  }

  test('TEI takes texts and its token count from x-compute-tokens', () => {
    assert.deepEqual(BACKEND_CODECS.tei.buildBody(request, undefined), {
      query: request.query,
      texts: request.documents,
      raw_scores: undefined,
      truncate: undefined,
      truncation_direction: undefined,
      return_text: false,
    });
    const read = BACKEND_CODECS.tei.readAnswer([{ index: 0, score: 1 }], '42');
    assert.deepEqual([read.tokens, read.usageSource], [42, 'header']);
  });

  test('Jina documents go as {text} objects; vLLM usage comes from the body', () => {
    assert.deepEqual((BACKEND_CODECS.jina.buildBody(request, 'j') as { documents: unknown[] }).documents[0], {
      text: 'berlin germany',
    });
    const read = BACKEND_CODECS.vllm.readAnswer(
      { results: [{ index: 0, relevance_score: 0.5 }], usage: { prompt_tokens: 9 } },
      undefined,
    );
    assert.deepEqual([read.tokens, read.usageSource], [9, 'body']);
  });
});

describe('answer checks', () => {
  const parsed = (results: { index: number; score: number }[]) => ({
    results,
    model: undefined,
    tokens: undefined,
    usageSource: 'none' as const,
  });
  const r = (index: number, score = 1) => ({ index, score });
  const cases: [string, { index: number; score: number }[], number, number | undefined, string][] = [
    ['index out of range', [r(3)], 1, undefined, 'index 3 out of range'],
    ['negative index', [r(-1)], 1, undefined, 'index -1 out of range'],
    ['duplicate index', [r(0), r(0, 0.5)], 2, undefined, 'index 0 appears twice'],
    ['NaN score', [r(0, Number.NaN)], 1, undefined, 'score for index 0 is not finite'],
    ['infinite score', [r(0, Number.POSITIVE_INFINITY)], 1, undefined, 'score for index 0 is not finite'],
    ['empty', [], 3, undefined, 'no results'],
    ['too many', [r(0), r(1), r(2), r(2)], 3, undefined, '4 results for 3 documents'],
    // A short answer would silently drop documents the caller sent.
    ['short: 1 result for 3 documents', [r(0)], 3, undefined, '1 results for 3 documents'],
    ['short: fewer than top_n', [r(0)], 3, 2, '1 results for 3 documents (top_n 2)'],
  ];
  for (const [name, results, documents, topN, message] of cases) {
    test(`refused: ${name}`, () =>
      assert.throws(
        () => rankAnswer(parsed(results), documents, topN),
        (e: unknown) => e instanceof MalformedAnswer && e.message === message,
      ));
  }

  test('accepted: every document, or at least top_n of them', () => {
    assert.equal(rankAnswer(parsed([r(0), r(1), r(2)]), 3, undefined).results.length, 3);
    assert.equal(rankAnswer(parsed([r(0), r(1)]), 3, 2).results.length, 2);
    assert.equal(rankAnswer(parsed([r(0), r(1), r(2)]), 3, 2).results.length, 2);
  });

  test('sorted best first, ties by index, cut to top_n', () => {
    const ranked = rankAnswer(
      parsed([
        { index: 2, score: 0.5 },
        { index: 0, score: 0.9 },
        { index: 1, score: 0.5 },
      ]),
      3,
      2,
    );
    assert.deepEqual(ranked.results, [
      { index: 0, score: 0.9 },
      { index: 1, score: 0.5 },
    ]);
  });
});

describe('status classification', () => {
  const policy = { retryOnStatus: new Set([429, 500, 502, 503, 504]), credentials: 'caller' as const };
  type Want = { retryable: boolean; clientCaused: boolean; verdict: AttemptVerdict; parkMs?: number };
  const table: [number, number | undefined, Want][] = [
    [500, undefined, { retryable: true, clientCaused: false, verdict: 'failure' }],
    [501, undefined, { retryable: false, clientCaused: false, verdict: 'failure' }],
    [503, undefined, { retryable: true, clientCaused: false, verdict: 'failure' }],
    [503, 7000, { retryable: true, clientCaused: false, verdict: 'neutral', parkMs: 7000 }],
    [429, undefined, { retryable: true, clientCaused: false, verdict: 'neutral', parkMs: 1000 }],
    [400, undefined, { retryable: false, clientCaused: true, verdict: 'success' }],
    [401, undefined, { retryable: false, clientCaused: true, verdict: 'success' }],
    [404, undefined, { retryable: false, clientCaused: true, verdict: 'success' }],
    [408, undefined, { retryable: true, clientCaused: false, verdict: 'failure' }],
    [413, undefined, { retryable: false, clientCaused: true, verdict: 'success' }],
    [422, undefined, { retryable: false, clientCaused: true, verdict: 'success' }],
    // A redirect is never the caller's fault nor passed on: the backend is misconfigured.
    [301, undefined, { retryable: true, clientCaused: false, verdict: 'failure' }],
    [302, undefined, { retryable: true, clientCaused: false, verdict: 'failure' }],
    [307, undefined, { retryable: true, clientCaused: false, verdict: 'failure' }],
    [304, undefined, { retryable: true, clientCaused: false, verdict: 'failure' }],
  ];
  for (const [status, retryAfter, want] of table) {
    test(`HTTP ${status}${retryAfter === undefined ? '' : ' + Retry-After'}`, () => {
      const e = classifyStatus(status, retryAfter, policy, '');
      assert.deepEqual(
        { retryable: e.retryable, clientCaused: e.clientCaused, verdict: e.verdict, parkMs: e.parkMs },
        { ...want, parkMs: want.parkMs },
      );
    });
  }

  // retry_on_status_codes means what it says: a listed status moves the call on, an unlisted one does not.
  const listCases: [string, number, number[], Want][] = [
    [
      "a listed 4xx moves the call to another backend, as that backend's failure",
      404,
      [404],
      { retryable: true, clientCaused: false, verdict: 'failure' },
    ],
    [
      "an unlisted 4xx is the request's fault: returned to the caller",
      404,
      [500],
      { retryable: false, clientCaused: true, verdict: 'success' },
    ],
    [
      'an unlisted 429 still parks the backend, but the call does not move on',
      429,
      [500],
      { retryable: false, clientCaused: false, verdict: 'neutral', parkMs: 1000 },
    ],
    [
      'an unlisted 5xx ends the call as a backend failure',
      502,
      [500],
      { retryable: false, clientCaused: false, verdict: 'failure' },
    ],
  ];
  for (const [name, status, list, want] of listCases) {
    test(name, () => {
      const e = classifyStatus(status, undefined, { retryOnStatus: new Set(list), credentials: 'caller' }, '');
      assert.deepEqual(
        { retryable: e.retryable, clientCaused: e.clientCaused, verdict: e.verdict, parkMs: e.parkMs },
        { ...want, parkMs: want.parkMs },
      );
    });
  }

  test('a cancelled attempt (hedge loser, caller gone) and one never sent say nothing about the backend', () => {
    for (const e of [new AttemptError('cancelled', 'cancelled'), new AttemptError('unavailable', 'breaker open')])
      assert.equal(e.verdict, 'neutral', e.kind);
    assert.equal(isCancelled(new AttemptError('cancelled', 'cancelled')), true);
    assert.equal(new AttemptError('timeout', 'timed out').verdict, 'failure');
  });

  test("401 from a backend with its own key is that key's fault: fail over and count it", () => {
    const e = classifyStatus(401, undefined, { ...policy, credentials: 'own' as const }, '');
    assert.deepEqual([e.retryable, e.clientCaused, e.verdict], [true, false, 'failure']);
  });

  test('401 from a backend that got no credentials at all is a backend fault (it needs a key we do not send)', () => {
    const e = classifyStatus(401, undefined, { ...policy, credentials: 'none' as const }, '');
    assert.deepEqual([e.retryable, e.clientCaused, e.verdict], [true, false, 'failure']);
  });

  test('the message is ours; the backend text travels only as detail', () => {
    const e = classifyStatus(500, undefined, policy, 'auth=[redacted]');
    assert.equal(e.message, 'HTTP 500');
    assert.equal(e.detail, 'auth=[redacted]');
  });
});
