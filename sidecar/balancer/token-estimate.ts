import type { RerankRequest } from '../api/canonical.ts';

/**
 * Tokens a rerank call costs before the backend says: a cross-encoder reads the query once per
 * document, so N x query_tokens + sum(doc_tokens), with ceil(chars / 4) tokens per text.
 */
export function estimateTokens(request: RerankRequest): number {
  const queryTokens = Math.ceil(request.query.length / 4);
  let docTokens = 0;
  for (const doc of request.documents) docTokens += Math.ceil(doc.length / 4);
  return request.documents.length * queryTokens + docTokens;
}
