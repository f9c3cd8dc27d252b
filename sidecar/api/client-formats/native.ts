/** The seed service's own format: `POST /rerank` with `documents`. */
import type { RankedAnswer, RerankRequest } from '../canonical.ts';
import { readBoolean, readDocuments, readOptionalString, readPositiveInt, readQuery, type Body } from '../request-fields.ts';

export function parseNative(body: Body): RerankRequest {
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

export function renderNative(request: RerankRequest, answer: RankedAnswer): unknown {
  const results = answer.results.map((r) =>
    request.returnDocuments
      ? { index: r.index, relevance_score: r.score, document: request.documents[r.index]! }
      : { index: r.index, relevance_score: r.score },
  );
  return { results };
}
