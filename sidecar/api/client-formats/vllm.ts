/**
 * vLLM's rerank API, on `/vllm/rerank`: what LiteLLM's `hosted_vllm/` provider speaks (it posts to
 * `<api_base>/rerank`, so its api_base is `http://<sidecar>/vllm`). The request is the Cohere shape
 * (`rank_fields`, `max_tokens_per_doc` accepted); the answer carries `id`, `model`, `usage` and
 * documents as `{text}` objects, where the seed's native `/rerank` answers plain strings.
 */
import type { RankedAnswer, RerankRequest } from '../canonical.ts';
import { documentRequest, readOptionalStringArray, type Body } from '../request-fields.ts';

export function parseVllm(body: Body): RerankRequest {
  return documentRequest(body, {
    returnDocuments: true,
    rankFields: readOptionalStringArray(body, 'rank_fields'),
    maxTokensPerDoc: true,
  });
}

export function renderVllm(request: RerankRequest, answer: RankedAnswer, id: string): unknown {
  const results = answer.results.map((r) =>
    request.returnDocuments
      ? { index: r.index, relevance_score: r.score, document: { text: request.documents[r.index]! } }
      : { index: r.index, relevance_score: r.score },
  );
  return { id, model: answer.model ?? request.model ?? null, usage: { total_tokens: answer.tokens ?? 0 }, results };
}
