/** The seed service's own format: `POST /rerank` with `documents`. */
import type { RankedAnswer, RerankRequest } from '../canonical.ts';
import { documentRequest, type Body } from '../request-fields.ts';

export function parseNative(body: Body): RerankRequest {
  return documentRequest(body, { returnDocuments: true });
}

export function renderNative(request: RerankRequest, answer: RankedAnswer): unknown {
  const results = answer.results.map((r) =>
    request.returnDocuments
      ? { index: r.index, relevance_score: r.score, document: request.documents[r.index]! }
      : { index: r.index, relevance_score: r.score },
  );
  return { results };
}
