/**
 * Test kit: what the rerank handler does with a parsed JSON body before and after the backend
 * (body check, format choice, parse, render of an answer for every document, JSON text), so tests
 * of hostile input see the same failures a caller would.
 */
import assert from 'node:assert/strict';
import type { ClientFormat, RankedAnswer, RerankRequest } from '../canonical.ts';
import { nestsTooDeep } from '../json-depth.ts';
import { asBody } from '../request-fields.ts';
import { LbError } from '../../errors.ts';
import { CLIENT_CODECS, formatOfRerankPath } from './index.ts';

/** A client format, or 'rerank' for the shared `/rerank` path that picks native or TEI. */
export type Endpoint = ClientFormat | 'rerank';
export const ENDPOINTS: readonly Endpoint[] = ['rerank', 'native', 'tei', 'cohere-v1', 'cohere-v2', 'jina'];

/** A backend answer scoring every document, best first, cut to top_n, as rank.ts would. */
function answerFor(request: RerankRequest): RankedAnswer {
  const results = request.documents.map((_text, index) => ({ index, score: 1 / (index + 1) }));
  if (request.topN !== undefined && request.topN < results.length) results.length = request.topN;
  return { results, model: 'fake', tokens: 7, usageSource: 'body' };
}

export type Outcome = { readonly request: RerankRequest; readonly json: string } | { readonly error: unknown };

/** Parses and renders as the handler does; whatever is thrown is returned, not rethrown. */
export function handle(endpoint: Endpoint, body: unknown): Outcome {
  try {
    const object = asBody(body);
    const codec = CLIENT_CODECS[endpoint === 'rerank' ? formatOfRerankPath(object) : endpoint];
    const request = codec.parse(object);
    return { request, json: JSON.stringify(codec.render(request, answerFor(request), 'req-1')) };
  } catch (error) {
    return { error };
  }
}

/** A 4xx LbError naming the field at fault: what a caller must get for bad input. */
export function assertClientError(error: unknown): asserts error is LbError {
  if (!(error instanceof LbError)) assert.fail(`expected an LbError, got ${String(error)}`);
  assert.ok(error.status >= 400 && error.status < 500, `status ${error.status}`);
  assert.ok(typeof error.field === 'string' && error.field !== '', 'the error names no field');
}

export function assertWellFormed(request: RerankRequest): void {
  assert.ok(typeof request.query === 'string' && request.query.trim() !== '', 'query');
  assert.ok(Array.isArray(request.documents) && request.documents.length > 0, 'documents');
  for (const text of request.documents) assert.equal(typeof text, 'string');
  if (request.topN !== undefined)
    assert.ok(Number.isSafeInteger(request.topN) && request.topN > 0, `topN ${request.topN}`);
  if (request.maxTokensPerDoc !== undefined)
    assert.ok(Number.isSafeInteger(request.maxTokensPerDoc) && request.maxTokensPerDoc > 0);
  assert.equal(typeof request.returnDocuments, 'boolean');
  if (request.originals !== undefined) {
    assert.equal(request.originals.length, request.documents.length);
    assert.ok(!nestsTooDeep(request.originals, 2), 'originals nest too deep');
  }
}

/** The field of the 4xx the endpoint gives for `body`; fails on success or on any other error. */
export function rejectedField(endpoint: Endpoint, body: unknown): string {
  const outcome = handle(endpoint, body);
  if (!('error' in outcome)) assert.fail(`expected a 4xx, got ${outcome.json.slice(0, 200)}`);
  assertClientError(outcome.error);
  return outcome.error.field!;
}
