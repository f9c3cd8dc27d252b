/** Jina AI: `/api/v1/rerank` (the seed's path); documents echoed by default. */
import type { RankedAnswer, RerankRequest } from '../canonical.ts';
import { documentRequest, type Body } from '../request-fields.ts';

export function parseJina(body: Body): RerankRequest {
  return documentRequest(body, { returnDocuments: true });
}

export function renderJina(request: RerankRequest, answer: RankedAnswer): unknown {
  const results = answer.results.map((r) =>
    request.returnDocuments
      ? { index: r.index, relevance_score: r.score, document: { text: request.documents[r.index]! } }
      : { index: r.index, relevance_score: r.score },
  );
  return { model: answer.model ?? request.model ?? null, usage: { total_tokens: answer.tokens ?? 0 }, results };
}
