/** Jina AI: `/api/v1/rerank` (the seed's path); documents echoed by default. */
import type { RankedAnswer, RerankRequest } from '../canonical.ts';
import { readBoolean, readDocuments, readOptionalString, readPositiveInt, readQuery, type Body } from '../request-fields.ts';

export function parseJina(body: Body): RerankRequest {
  const docs = readDocuments(body, 'documents');
  return {
    model: readOptionalString(body, 'model'),
    query: readQuery(body),
    documents: docs.texts,
    originals: docs.originals,
    topN: readPositiveInt(body, 'top_n'),
    returnDocuments: readBoolean(body, 'return_documents', true),
    maxTokensPerDoc: undefined,
    truncate: undefined,
    truncationDirection: undefined,
    rawScores: undefined,
  };
}

export function renderJina(request: RerankRequest, answer: RankedAnswer): unknown {
  const results = answer.results.map((r) =>
    request.returnDocuments
      ? { index: r.index, relevance_score: r.score, document: { text: request.documents[r.index]! } }
      : { index: r.index, relevance_score: r.score },
  );
  return { model: answer.model ?? request.model ?? null, usage: { total_tokens: answer.tokens ?? 0 }, results };
}
