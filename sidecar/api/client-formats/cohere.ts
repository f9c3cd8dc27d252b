/** Cohere v1 (`/v1/rerank`) and v2 (`/v2/rerank`). */
import type { RankedAnswer, RerankRequest } from '../canonical.ts';
import {
  readBoolean,
  readDocuments,
  readOptionalString,
  readOptionalStringArray,
  readPositiveInt,
  readQuery,
  type Body,
} from '../request-fields.ts';

export function parseCohereV1(body: Body): RerankRequest {
  const rankFields = readOptionalStringArray(body, 'rank_fields');
  readPositiveInt(body, 'max_chunks_per_doc');
  const docs = readDocuments(body, 'documents', rankFields);
  return {
    model: readOptionalString(body, 'model'),
    query: readQuery(body),
    documents: docs.texts,
    originals: docs.originals,
    topN: readPositiveInt(body, 'top_n'),
    returnDocuments: readBoolean(body, 'return_documents', false),
    maxTokensPerDoc: undefined,
    truncate: undefined,
    truncationDirection: undefined,
    rawScores: undefined,
  };
}

export function parseCohereV2(body: Body): RerankRequest {
  const docs = readDocuments(body, 'documents');
  return {
    model: readOptionalString(body, 'model'),
    query: readQuery(body),
    documents: docs.texts,
    originals: docs.originals,
    topN: readPositiveInt(body, 'top_n'),
    returnDocuments: false,
    maxTokensPerDoc: readPositiveInt(body, 'max_tokens_per_doc'),
    truncate: undefined,
    truncationDirection: undefined,
    rawScores: undefined,
  };
}

/** Cohere bills one search unit per query of up to 100 documents. */
function meta(version: string, documentCount: number): unknown {
  return { api_version: { version }, billed_units: { search_units: Math.ceil(documentCount / 100) } };
}

function render(request: RerankRequest, answer: RankedAnswer, id: string, version: string): unknown {
  const results = answer.results.map((r) => {
    if (!request.returnDocuments) return { index: r.index, relevance_score: r.score };
    const original = request.originals?.[r.index];
    const document = typeof original === 'object' ? original : { text: request.documents[r.index]! };
    return { index: r.index, relevance_score: r.score, document };
  });
  return { id, results, meta: meta(version, request.documents.length) };
}

export function renderCohereV1(request: RerankRequest, answer: RankedAnswer, id: string): unknown {
  return render(request, answer, id, '1');
}

export function renderCohereV2(request: RerankRequest, answer: RankedAnswer, id: string): unknown {
  return render(request, answer, id, '2');
}
