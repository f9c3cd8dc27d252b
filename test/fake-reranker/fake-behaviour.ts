/** What a fake reranker does with each rerank call: set at start, by set(), or POST /__control. */

/**
 * - ok: a valid answer.
 * - status: `status` with a small JSON error (and `retryAfter` when set).
 * - hang: reads the request, never answers, keeps the socket open.
 * - reset: destroys the socket.
 * - malformed: 200 with an answer that breaks the format (index out of range, score a string).
 * - stream: 200 headers, then `streamChunkBytes` of whitespace every `streamIntervalMs` for
 *   `streamDurationMs`, then the valid answer: the whole body is valid JSON, late.
 * - endless: 200 headers, then whitespace chunks at the same pace until the client goes away.
 * - redirect: `redirectStatus` with `Location: redirectLocation` (default: this fake's
 *   `/__redirected`, which counts `stats.redirectsFollowed`).
 * - echo-auth: `echoStatus` with `{"error":"auth=<Authorization>","message":"auth=<Authorization>"}`,
 *   as real APIs that echo keys in errors.
 * - short: a valid answer holding only the best document (1 result for 3 documents).
 * - huge: a valid answer led by whitespace up to `hugeBytes` in all (Content-Length set).
 * - hang-after-headers: 200 headers and one space, then nothing; the socket stays open.
 */
export const FAKE_MODES = [
  'ok',
  'status',
  'hang',
  'reset',
  'malformed',
  'stream',
  'endless',
  'redirect',
  'echo-auth',
  'short',
  'huge',
  'hang-after-headers',
] as const;
export type FakeMode = (typeof FAKE_MODES)[number];

const SCORINGS = ['bm25', 'cheap', 'reversed'] as const;
export type Scoring = (typeof SCORINGS)[number];

export interface Behaviour {
  /** Median latency of a rerank call, before the mode acts. */
  latencyMs: number;
  /** Sigma of a log-normal spread around the median (0: fixed latency). */
  latencySigma: number;
  /** Added latency per document of the call (a cross-encoder's time grows with the documents). */
  latencyPerDocumentMs: number;
  mode: FakeMode;
  /** Status for mode 'status'. */
  status: number;
  /** Retry-After header sent with mode 'status', if set. */
  retryAfter: string | undefined;
  /** Status of GET /health. */
  healthStatus: number;
  /** Token usage to report instead of the computed count (tests of usage correction). */
  reportedTokens: number | undefined;
  /**
   * 'bm25' scores for real; 'cheap' returns fixed decreasing scores (benchmarks: no scoring cost);
   * 'reversed' ranks by BM25 worst first (a different model: the consistency canary's test).
   */
  scoring: Scoring;
  /** Modes 'stream' and 'endless': bytes per write. */
  streamChunkBytes: number;
  /** Modes 'stream' and 'endless': time between writes. */
  streamIntervalMs: number;
  /** Mode 'stream': how long the body trickles before the answer ends it. */
  streamDurationMs: number;
  /** Mode 'redirect': the status (301, 302, 303, 307, 308). */
  redirectStatus: number;
  /** Mode 'redirect': the Location; undefined means `http://<Host header>/__redirected`. */
  redirectLocation: string | undefined;
  /** Mode 'echo-auth': the status. */
  echoStatus: number;
  /** Mode 'huge': size of the whole body in bytes. */
  hugeBytes: number;
  /** Destroy the socket on every Nth rerank call after this was set, whatever the mode (0: off). */
  resetEvery: number;
  /**
   * Like TEI under load: rerank calls served at once (0: unlimited). The others wait in a
   * first-come queue (te_queue_size on /metrics, x-queue-time on the answer).
   */
  concurrency: number;
  /** Like TEI's --max-concurrent-requests: calls held at once (served + waiting); past it, 429 (0: unlimited). Told on /info. */
  maxConcurrentRequests: number;
  /** Like TEI's --max-client-batch-size: documents per call (format tei: more is a 422); told on /info. */
  maxClientBatchSize: number;
}

export const HEALTHY: Behaviour = {
  latencyMs: 0,
  latencySigma: 0,
  latencyPerDocumentMs: 0,
  mode: 'ok',
  status: 500,
  retryAfter: undefined,
  healthStatus: 200,
  reportedTokens: undefined,
  scoring: 'bm25',
  streamChunkBytes: 65_536,
  streamIntervalMs: 50,
  streamDurationMs: 45_000,
  redirectStatus: 302,
  redirectLocation: undefined,
  echoStatus: 500,
  hugeBytes: 50 * 1024 * 1024,
  resetEvery: 0,
  concurrency: 0,
  maxConcurrentRequests: 0,
  maxClientBatchSize: 32,
};

/** A reason the change cannot be applied, or undefined (for /__control and the CLI). */
export function behaviourProblem(change: Record<string, unknown>): string | undefined {
  for (const [key, value] of Object.entries(change)) {
    if (!Object.hasOwn(HEALTHY, key)) return `unknown behaviour field "${key}"`;
    if (key === 'mode' && !(FAKE_MODES as readonly unknown[]).includes(value))
      return `mode must be one of ${FAKE_MODES.join(', ')}`;
    if (key === 'scoring' && !(SCORINGS as readonly unknown[]).includes(value))
      return `scoring must be one of ${SCORINGS.join(', ')}`;
    const expected = typeof HEALTHY[key as keyof Behaviour];
    if (expected === 'number' && (typeof value !== 'number' || !Number.isFinite(value) || value < 0))
      return `${key} must be a number >= 0`;
  }
  return undefined;
}
