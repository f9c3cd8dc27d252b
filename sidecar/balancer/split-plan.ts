/**
 * Splitting a call into chunks that fit the backends' limits, and merging the chunks' answers:
 * pure functions, so every case is table-tested without sockets. The driver (split-driver.ts) routes
 * each chunk as a run of the attempt plan of its own, in parallel, within the call's deadline.
 *
 * Scores are comparable only within one model, so a split call goes to backends of one configured
 * `model` (see `modelGroup`); a pool is meant to be one model.
 */
import type { RankedAnswer, RerankRequest, ScoredIndex, UsageSource } from '../api/canonical.ts';

export interface CallLimits {
  /** Documents per call, at most (Infinity: unlimited). */
  readonly maxDocuments: number;
  /** Estimated tokens per call, at most (Infinity: unlimited). */
  readonly maxTokens: number;
}

export const UNLIMITED: CallLimits = { maxDocuments: Number.POSITIVE_INFINITY, maxTokens: Number.POSITIVE_INFINITY };

/** A run of the caller's documents, [start, end), and its estimated tokens. */
export interface Chunk {
  readonly start: number;
  readonly end: number;
  readonly cost: number;
}

interface LimitedBackend {
  readonly spec: {
    readonly maxDocumentsPerCall: number | undefined;
    readonly maxTokensPerCall: number | undefined;
    readonly model: string | undefined;
  };
}

/** The tightest limits among `backends` (a chunk may fail over to any of them). */
export function limitsOf(backends: readonly LimitedBackend[]): CallLimits {
  let maxDocuments = Number.POSITIVE_INFINITY;
  let maxTokens = Number.POSITIVE_INFINITY;
  for (const b of backends) {
    if (b.spec.maxDocumentsPerCall !== undefined) maxDocuments = Math.min(maxDocuments, b.spec.maxDocumentsPerCall);
    if (b.spec.maxTokensPerCall !== undefined) maxTokens = Math.min(maxTokens, b.spec.maxTokensPerCall);
  }
  return maxDocuments === Number.POSITIVE_INFINITY && maxTokens === Number.POSITIVE_INFINITY
    ? UNLIMITED
    : { maxDocuments, maxTokens };
}

/**
 * Whether a call may need splitting: larger than the pool's tightest limit, or sharded by
 * `shard_min_documents`. Numbers only — the common call pays three comparisons.
 */
export function mayNeedSplit(
  documents: number,
  cost: number,
  limits: CallLimits,
  shardMinDocuments: number | undefined,
): boolean {
  return (
    documents > limits.maxDocuments ||
    (cost > limits.maxTokens && documents > 1) ||
    (shardMinDocuments !== undefined && documents >= shardMinDocuments)
  );
}

/** The backends that serve the same configured model as `chosen`. */
export function modelGroup<B extends LimitedBackend>(backends: readonly B[], chosen: B): B[] {
  const model = chosen.spec.model;
  return backends.filter((b) => b.spec.model === model);
}

/**
 * Chunks for `request`: as few as the limits allow, but at least `shards`, of even size, in the
 * caller's order. Token limits use the same estimate as tpm (query tokens per document + the
 * document's). A single document over the token limit goes alone: the backend decides.
 */
export function planChunks(request: RerankRequest, limits: CallLimits, shards: number): Chunk[] {
  const n = request.documents.length;
  const byCount = Math.ceil(n / limits.maxDocuments);
  const count = Math.min(n, Math.max(1, shards, byCount));
  const size = Math.ceil(n / count);
  const queryTokens = Math.ceil(request.query.length / 4);
  const chunks: Chunk[] = [];
  let start = 0;
  let cost = 0;
  for (let i = 0; i < n; i++) {
    const docCost = queryTokens + Math.ceil(request.documents[i]!.length / 4);
    const full = i - start >= size || (i > start && cost + docCost > limits.maxTokens);
    if (full) {
      chunks.push({ start, end: i, cost });
      start = i;
      cost = 0;
    }
    cost += docCost;
  }
  if (n > 0) chunks.push({ start, end: n, cost });
  return chunks;
}

/** The request one chunk sends: its documents, the caller's top_n (the global top n is within each chunk's). */
export function chunkRequest(request: RerankRequest, chunk: Chunk): RerankRequest {
  const topN = request.topN === undefined ? undefined : Math.min(request.topN, chunk.end - chunk.start);
  return {
    ...request,
    documents: request.documents.slice(chunk.start, chunk.end),
    originals: undefined,
    topN,
    // The sidecar holds the texts; the caller's answer is rendered from them.
    returnDocuments: false,
  };
}

/**
 * One answer from the chunks' answers: indices mapped back to the caller's, sorted best first
 * (ties by index, as a single backend would), cut to `topN`; tokens summed.
 */
export function mergeAnswers(
  chunks: readonly Chunk[],
  answers: readonly RankedAnswer[],
  topN: number | undefined,
): RankedAnswer {
  const results: ScoredIndex[] = [];
  let tokens = 0;
  let usageSource: UsageSource | undefined;
  let model: string | undefined;
  for (let c = 0; c < chunks.length; c++) {
    const answer = answers[c]!;
    const offset = chunks[c]!.start;
    for (const r of answer.results) results.push({ index: r.index + offset, score: r.score });
    tokens += answer.tokens ?? 0;
    // One estimated chunk makes the whole count an estimate.
    if (usageSource === undefined || answer.usageSource === 'estimate') usageSource = answer.usageSource;
    model ??= answer.model;
  }
  results.sort(byScore);
  if (topN !== undefined && topN < results.length) results.length = topN;
  return { results, model, tokens, usageSource: usageSource ?? 'none' };
}

function byScore(a: ScoredIndex, b: ScoredIndex): number {
  return b.score - a.score || a.index - b.index;
}
