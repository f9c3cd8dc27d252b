/** Why one attempt at one backend failed, and what the balancer should do about it. */

export type FailureKind = 'status' | 'network' | 'timeout' | 'malformed' | 'unavailable';

export class AttemptError extends Error {
  readonly kind: FailureKind;
  readonly status: number | undefined;
  /** The caller caused it (a 4xx about the request): not retried, not held against the backend. */
  readonly clientCaused: boolean;
  /** Another backend may succeed where this one failed. */
  readonly retryable: boolean;
  /** The backend asked for a pause (429, or 503 with Retry-After): park it, without a breaker strike. */
  readonly parkMs: number | undefined;

  constructor(
    kind: FailureKind,
    message: string,
    opts: { status?: number; clientCaused?: boolean; retryable?: boolean; parkMs?: number; cause?: unknown } = {},
  ) {
    super(message, { cause: opts.cause });
    this.name = 'AttemptError';
    this.kind = kind;
    this.status = opts.status;
    this.clientCaused = opts.clientCaused ?? false;
    this.retryable = opts.retryable ?? !this.clientCaused;
    this.parkMs = opts.parkMs;
  }

  /** Whether the circuit breaker should count this against the backend. */
  get countsAgainstBackend(): boolean {
    return !this.clientCaused && this.parkMs === undefined && this.kind !== 'unavailable';
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
  /** The backend has its own key, so a 401/403 means that key is wrong, not the caller's. */
  readonly ownKey: boolean;
}

/** Classifies a non-2xx answer. Pure. */
export function classifyStatus(status: number, retryAfterMs: number | undefined, policy: StatusPolicy, detail: string): AttemptError {
  const message = `HTTP ${status}${detail === '' ? '' : `: ${detail}`}`;
  const retryable = policy.retryOnStatus.has(status);
  if (status === 429 || (status === 503 && retryAfterMs !== undefined)) {
    return new AttemptError('status', message, { status, retryable: true, parkMs: retryAfterMs ?? DEFAULT_PARK_MS });
  }
  if (status >= 500) return new AttemptError('status', message, { status, retryable });
  if ((status === 401 || status === 403) && policy.ownKey) {
    return new AttemptError('status', message, { status, retryable: true });
  }
  if (status === 408) return new AttemptError('status', message, { status, retryable: true });
  return new AttemptError('status', message, { status, clientCaused: true });
}
