/** Backend wire formats, by `api_format`. See shared/design/RERANK-APIS.md. */
import type { ApiFormat } from '../../../common/config-schema.ts';
import type { RerankRequest } from '../../api/canonical.ts';
import type { BackendCodec, ParsedAnswer } from './types.ts';
import { bodyUsage, objectBody, optionalString, readScoredList } from './read-answer.ts';

function modelField(request: RerankRequest, model: string | undefined): string | undefined {
  return model ?? request.model;
}

/** `{results: [{index, relevance_score}], usage?}`: native, Cohere, Jina, vLLM. */
function readResultsObject(body: unknown): ParsedAnswer {
  const object = objectBody(body);
  return {
    results: readScoredList(object.results, 'relevance_score'),
    model: optionalString(object.model),
    ...bodyUsage(object),
  };
}

const native: BackendCodec = {
  rerankPath: '/rerank',
  healthPath: '/health',
  buildBody: (request, model) => ({
    model: modelField(request, model),
    query: request.query,
    documents: request.documents,
    return_documents: false,
  }),
  readAnswer: readResultsObject,
};

const cohere: BackendCodec = {
  rerankPath: '/v1/rerank',
  healthPath: undefined,
  buildBody: (request, model) => ({
    model: modelField(request, model),
    query: request.query,
    documents: request.documents,
    return_documents: false,
  }),
  readAnswer: readResultsObject,
};

const jina: BackendCodec = {
  rerankPath: '/api/v1/rerank',
  healthPath: undefined,
  buildBody: (request, model) => ({
    model: modelField(request, model),
    query: request.query,
    documents: request.documents.map((text) => ({ text })),
    return_documents: false,
  }),
  readAnswer: readResultsObject,
};

const tei: BackendCodec = {
  rerankPath: '/rerank',
  healthPath: '/health',
  buildBody: (request) => ({
    query: request.query,
    texts: request.documents,
    raw_scores: request.rawScores,
    truncate: request.truncate,
    truncation_direction: request.truncationDirection,
    return_text: false,
  }),
  readAnswer(body, tokenHeader) {
    const tokens = tokenHeader === undefined ? Number.NaN : Number(tokenHeader);
    const known = Number.isFinite(tokens) && tokens >= 0;
    return {
      results: readScoredList(body, 'score'),
      model: undefined,
      tokens: known ? tokens : undefined,
      usageSource: known ? 'header' : 'none',
    };
  },
};

const vllm: BackendCodec = {
  rerankPath: '/rerank',
  healthPath: '/health',
  // top_n omitted means all documents; vLLM rejects null. max_tokens_per_doc truncates each
  // document on the server (the only backend format here that takes it).
  buildBody: (request, model) =>
    request.maxTokensPerDoc === undefined
      ? { model: modelField(request, model), query: request.query, documents: request.documents }
      : {
          model: modelField(request, model),
          query: request.query,
          documents: request.documents,
          max_tokens_per_doc: request.maxTokensPerDoc,
        },
  readAnswer: readResultsObject,
};

const infinity: BackendCodec = {
  rerankPath: '/rerank',
  healthPath: '/health',
  buildBody: (request, model) => ({
    model: modelField(request, model),
    query: request.query,
    documents: request.documents,
    return_documents: false,
  }),
  readAnswer(body) {
    // Infinity's usage counts characters by default, so it is not used as a token count.
    const object = objectBody(body);
    return {
      results: readScoredList(object.results, 'relevance_score'),
      model: optionalString(object.model),
      tokens: undefined,
      usageSource: 'none',
    };
  },
};

export const BACKEND_CODECS: Readonly<Record<ApiFormat, BackendCodec>> = { native, cohere, jina, tei, vllm, infinity };
export type { BackendCodec, ParsedAnswer } from './types.ts';
