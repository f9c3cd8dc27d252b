/** Hugging Face TEI: `POST /rerank` with `texts`; the answer is a bare array with `score`. */
import type { RankedAnswer, RerankRequest } from '../canonical.ts';
import { invalidRequest } from '../../errors.ts';
import {
  readBoolean,
  readOptionalBoolean,
  readOptionalString,
  readQuery,
  readStringArray,
  type Body,
} from '../request-fields.ts';

export function parseTei(body: Body): RerankRequest {
  const direction = readOptionalString(body, 'truncation_direction');
  if (direction !== undefined && direction !== 'Left' && direction !== 'Right') {
    throw invalidRequest('truncation_direction', 'expected "Left" or "Right"');
  }
  return {
    model: undefined,
    query: readQuery(body),
    documents: readStringArray(body, 'texts'),
    originals: undefined,
    topN: undefined,
    returnDocuments: readBoolean(body, 'return_text', false),
    maxTokensPerDoc: undefined,
    truncate: readOptionalBoolean(body, 'truncate'),
    truncationDirection: direction,
    rawScores: readOptionalBoolean(body, 'raw_scores'),
  };
}

export function renderTei(request: RerankRequest, answer: RankedAnswer): unknown {
  return answer.results.map((r) =>
    request.returnDocuments
      ? { index: r.index, score: r.score, text: request.documents[r.index]! }
      : { index: r.index, score: r.score },
  );
}
