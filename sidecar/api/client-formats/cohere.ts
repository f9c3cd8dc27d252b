/** Cohere v1 (`/v1/rerank`) and v2 (`/v2/rerank`). */
import type { RankedAnswer, RerankRequest } from '../canonical.ts';
import { distinctRankFields } from '../rank-fields.ts';
import { documentRequest, readOptionalStringArray, readPositiveInt, type Body } from '../request-fields.ts';

export function parseCohereV1(body: Body): RerankRequest {
  const listed = readOptionalStringArray(body, 'rank_fields');
  const rankFields = listed === undefined ? undefined : distinctRankFields(listed);
  readPositiveInt(body, 'max_chunks_per_doc');
  return documentRequest(body, { returnDocuments: false, rankFields });
}

export function parseCohereV2(body: Body): RerankRequest {
  return documentRequest(body, { returnDocuments: 'never', maxTokensPerDoc: true });
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
  // `model` and `usage` are not Cohere's, but clients that read Jina's or vLLM's answer shape from
  // /v1/rerank (LiteLLM's jina_ai provider) need them; Cohere clients ignore them.
  return {
    id,
    model: answer.model ?? request.model ?? null,
    results,
    meta: meta(version, request.documents.length),
    usage: { total_tokens: answer.tokens ?? 0 },
  };
}

export function renderCohereV1(request: RerankRequest, answer: RankedAnswer, id: string): unknown {
  return render(request, answer, id, '1');
}

export function renderCohereV2(request: RerankRequest, answer: RankedAnswer, id: string): unknown {
  return render(request, answer, id, '2');
}
