/** Why one attempt at one backend failed, and what the balancer should do about it. */

/**
 * `cancelled`: the caller went away, so the attempt was abandoned; it says nothing about the backend.
 * `oversized`: the answer was larger than max_response_bytes.
 */
export type FailureKind = 'status' | 'network' | 'timeout' | 'malformed' | 'oversized' | 'unavailable' | 'cancelled';

export class AttemptError extends Error {
  readonly kind: FailureKind;
  readonly status: number | undefined;
  /** The caller caused it (a 4xx about the request): not retried, not held against the backend. */
  readonly clientCaused: boolean;
  /** Another backend may succeed where this one failed. */
  readonly retryable: boolean;
  /** The backend asked for a pause (429, or 503 with Retry-After): park it, without a breaker strike. */
  readonly parkMs: number | undefined;
  /**
   * What the backend said, redacted, for the log only. `message` is always our own words (kind,
   * status): it may reach callers and /lb/stats; this never does.
   */
  readonly detail: string | undefined;

  constructor(
    kind: FailureKind,
    message: string,
    opts: { status?: number; clientCaused?: boolean; retryable?: boolean; parkMs?: number; cause?: unknown; detail?: string } = {},
  ) {
    super(message, { cause: opts.cause });
    this.detail = opts.detail;
    this.name = 'AttemptError';
    this.kind = kind;
    this.status = opts.status;
    this.clientCaused = opts.clientCaused ?? false;
    this.retryable = opts.retryable ?? (!this.clientCaused && kind !== 'cancelled');
    this.parkMs = opts.parkMs;
  }

  /** Whether the circuit breaker should count this against the backend. */
  get countsAgainstBackend(): boolean {
    return !this.clientCaused && this.parkMs === undefined && this.kind !== 'unavailable' && this.kind !== 'cancelled';
  }
}

/** 429 without Retry-After (TEI, Infinity) parks a backend this long. */
export const DEFAULT_PARK_MS = 1000;
const MAX_PARK_MS = 5 * 60 * 1000;

/** Retry-After as seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | string[] | undefined, wallNow: number): number | undefined {
  const raw = Array.isArray(value) ? value[0] : value;
  if (raw === undefined || raw === '') return undefined;
  const seconds = Number(raw);
  const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(raw) - wallNow;
  if (!Number.isFinite(ms)) return undefined;
  return Math.min(Math.max(ms, 0), MAX_PARK_MS);
}

export interface StatusPolicy {
  readonly retryOnStatus: ReadonlySet<number>;
  /**
   * Whose credentials the backend judged: `own` (its configured key: a 401/403 means that key is
   * wrong), `caller` (the caller's Authorization was forwarded: a 401/403 is the caller's), or
   * `none` (the backend wants a key we do not send: a configuration fault of that backend).
   */
  readonly credentials: 'own' | 'caller' | 'none';
}

/**
 * Classifies a non-2xx answer. Pure. The message is ours (`HTTP 500`); the backend's own text
 * travels only as `detail`, already redacted by the caller.
 */
export function classifyStatus(status: number, retryAfterMs: number | undefined, policy: StatusPolicy, detail: string | undefined): AttemptError {
  const message = `HTTP ${status}`;
  if (status === 429 || (status === 503 && retryAfterMs !== undefined)) {
    return new AttemptError('status', message, { status, retryable: true, parkMs: retryAfterMs ?? DEFAULT_PARK_MS, detail });
  }
  if (status >= 500) return new AttemptError('status', message, { status, retryable: policy.retryOnStatus.has(status), detail });
  // A redirect or an informational answer is never what a rerank endpoint should say: the backend
  // is misconfigured (wrong path, an auth proxy). Never followed, never passed to the caller.
  if (status < 400) return new AttemptError('status', message, { status, retryable: true, detail });
  if ((status === 401 || status === 403) && policy.credentials !== 'caller') {
    return new AttemptError('status', message, { status, retryable: true, detail });
  }
  if (status === 408) return new AttemptError('status', message, { status, retryable: true, detail });
  return new AttemptError('status', message, { status, clientCaused: true, detail });
}
