/** Why one attempt at one backend failed, and what the balancer should do about it. */
import { parkMsFor } from '../retry-after.ts';

/**
 * `cancelled`: we abandoned the attempt (the caller went away, or a hedge won); it says nothing about the backend.
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
    opts: {
      status?: number;
      clientCaused?: boolean;
      retryable?: boolean;
      parkMs?: number;
      cause?: unknown;
      detail?: string;
    } = {},
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

  /** How this end reflects on the backend: see `AttemptVerdict`. */
  get verdict(): AttemptVerdict {
    if (isCancelled(this) || this.kind === 'unavailable' || this.parkMs !== undefined) return 'neutral';
    return this.clientCaused ? 'success' : 'failure';
  }
}

/**
 * How an attempt's end reflects on the backend — the one answer its breaker and outlier
 * detection both use. `success`: it answered (a 4xx about the request counts: it did its job).
 * `failure`: it failed (5xx, network, timeout, malformed ...). `neutral`: it says nothing about the
 * backend, neither success nor failure: cancelled by us (a hedge loser, a caller who left), never
 * sent (breaker open), or a pause the backend asked for (parked instead).
 */
export type AttemptVerdict = 'success' | 'failure' | 'neutral';

/** We abandoned the attempt (the caller went away, or a hedge won): no judgement of the backend. */
export function isCancelled(error: AttemptError): boolean {
  return error.kind === 'cancelled';
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
 * Classifies a non-2xx answer. Pure. `retryOnStatus` decides which statuses move the call to
 * another backend; a listed status is that backend's failure, whatever its class. Some statuses
 * move on whatever the list says, because they are never the request's fault: 1xx/3xx (a
 * misconfigured backend), 401/403 to the backend's own key (or to none), 408. A pause the backend
 * asks for (429, 503 + Retry-After) parks it either way, without a strike. The message is ours
 * (`HTTP 500`); the backend's own text travels only as `detail`, already redacted by the caller.
 */
export function classifyStatus(
  status: number,
  retryAfterMs: number | undefined,
  policy: StatusPolicy,
  detail: string | undefined,
): AttemptError {
  const message = `HTTP ${status}`;
  const listed = policy.retryOnStatus.has(status);
  const parkMs = parkMsFor(status, retryAfterMs);
  if (parkMs !== undefined) return new AttemptError('status', message, { status, retryable: listed, parkMs, detail });
  if (listed || status >= 500) return new AttemptError('status', message, { status, retryable: listed, detail });
  // Never followed, never passed to the caller: a rerank endpoint that answers so is misconfigured
  // (wrong path, an auth proxy).
  if (status < 400) return new AttemptError('status', message, { status, retryable: true, detail });
  if ((status === 401 || status === 403) && policy.credentials !== 'caller') {
    return new AttemptError('status', message, { status, retryable: true, detail });
  }
  if (status === 408) return new AttemptError('status', message, { status, retryable: true, detail });
  return new AttemptError('status', message, { status, clientCaused: true, detail });
}
