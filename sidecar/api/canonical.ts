/** The one internal request/response; every wire format translates to and from these. */

export interface RerankRequest {
  readonly model: string | undefined;
  readonly query: string;
  /** Document texts, in the caller's order. */
  readonly documents: readonly string[];
  /** What the caller sent per document when some were objects (echoed back by Cohere v1). */
  readonly originals: readonly unknown[] | undefined;
  readonly topN: number | undefined;
  readonly returnDocuments: boolean;
  readonly maxTokensPerDoc: number | undefined;
  /** TEI passthroughs; ignored by other backends. */
  readonly truncate: boolean | undefined;
  readonly truncationDirection: string | undefined;
  readonly rawScores: boolean | undefined;
}

export interface ScoredIndex {
  readonly index: number;
  readonly score: number;
}

export type UsageSource = 'body' | 'header' | 'estimate' | 'none';

/** A validated backend answer: every index in range, scores finite, sorted best first, cut to top_n. */
export interface RankedAnswer {
  readonly results: readonly ScoredIndex[];
  readonly model: string | undefined;
  readonly tokens: number | undefined;
  readonly usageSource: UsageSource;
}

export type ClientFormat = 'native' | 'tei' | 'cohere-v1' | 'cohere-v2' | 'jina' | 'vllm';

/** A plain request of our own (the canary's): no top_n, no documents returned, no passthroughs. */
export function plainRequest(query: string, documents: readonly string[]): RerankRequest {
  return {
    model: undefined,
    query,
    documents,
    originals: undefined,
    topN: undefined,
    returnDocuments: false,
    maxTokensPerDoc: undefined,
    truncate: undefined,
    truncationDirection: undefined,
    rawScores: undefined,
  };
}
