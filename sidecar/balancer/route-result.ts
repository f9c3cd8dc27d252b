/**
 * What a route returns or throws: the answer with the attempts it took, or a RouteError in our own
 * words (never a backend's text), and the records the request log keeps of each attempt.
 */
import type { RankedAnswer } from '../api/canonical.ts';
import { isCancelled, type AttemptError } from '../backends/attempt-error.ts';
import { LbError } from '../errors.ts';
import { rateLimited, RETRY_SOON_SECONDS, retryAfterSeconds } from '../retry-after.ts';
import type { Generation } from './generation.ts';

export interface AttemptRecord {
  readonly backend: string;
  /** HTTP status, or the failure kind (timeout, network, malformed, unavailable). */
  readonly outcome: number | string;
  readonly ms: number;
  /** What the backend said, redacted: for the request log only, never for callers. */
  readonly detail?: string;
  /** Split calls: which chunk (0-based) the attempt was for. */
  readonly chunk?: number;
  /** Hedged calls: this attempt was the hedge. */
  readonly role?: 'hedge';
}

/** Split calls: the caller's documents [start, end) and the backend that served them. */
export interface ChunkRecord {
  readonly documents: readonly [number, number];
  readonly backend: string;
}

export interface RouteResult {
  readonly answer: RankedAnswer;
  readonly backend: string;
  readonly local: boolean;
  readonly attempts: readonly AttemptRecord[];
  readonly estimatedTokens: number;
  /** The config generation the call was routed on (its settings apply to the whole call). */
  readonly generation: Generation;
  /** Split calls only. */
  readonly chunks?: readonly ChunkRecord[];
}

export interface RouteOptions {
  readonly callerAuthorization: string | undefined;
  /** Load balancing off: every call goes straight to the local backend. */
  readonly localOnly: boolean;
  /** Aborted when the caller disconnects: attempts in flight are cancelled, none is started. */
  readonly signal?: AbortSignal | undefined;
  /** The generation to route on (the caller pinned it when the call arrived); default the current one. */
  readonly generation?: Generation;
  /** x-reranker-priority: higher first when backends are full; negative is sheddable. Default 0. */
  readonly priority?: number;
  /** x-reranker-tenant: served round-robin with other tenants of the same priority. */
  readonly tenant?: string;
}

/** A route that failed, with what was tried (for the request log). */
export class RouteError extends LbError {
  readonly attempts: readonly AttemptRecord[];
  /** Why no attempt succeeded, in our own words (never a backend's text): for the request log. */
  readonly reason: string | undefined;
  constructor(error: LbError, attempts: readonly AttemptRecord[], reason?: string) {
    super(error.code, error.status, error.message, {
      field: error.field,
      retryAfterSeconds: error.retryAfterSeconds,
      cause: error.cause,
    });
    this.attempts = attempts;
    this.reason = reason;
  }
}

export function roundMs(ms: number): number {
  return Math.round(ms * 100) / 100;
}

/** A backend that reports no usage is charged the estimate, and says so. */
export function withUsage(answer: RankedAnswer, estimate: number): RankedAnswer {
  return answer.tokens === undefined ? { ...answer, tokens: estimate, usageSource: 'estimate' } : answer;
}

/** What the caller is told when an attempt ends the route: our own words, never the backend's. */
export function finalError(error: AttemptError, backend: string): LbError {
  if (isCancelled(error)) return callerGone();
  // A pause the backend asked for, with a status not in retry_on_status_codes: the caller gets the
  // pause, in our words and whole seconds.
  if (error.parkMs !== undefined) {
    if (error.status === 429)
      return rateLimited(`backend ${backend} is at its rate limit (${error.message})`, error.parkMs);
    return new LbError('upstream_failed', 503, `backend ${backend} is unavailable for now (${error.message})`, {
      retryAfterSeconds: retryAfterSeconds(error.parkMs),
    });
  }
  if (error.clientCaused) {
    const status = error.status ?? 400;
    return new LbError(
      'backend_rejected_request',
      status,
      `backend ${backend} rejected the request (${error.message}); check the request against the backend's limits and format`,
    );
  }
  return new LbError('upstream_failed', 502, `backend ${backend} failed: ${error.message}`, {
    retryAfterSeconds: RETRY_SOON_SECONDS,
  });
}

export function callerGone(): LbError {
  return new LbError('client_closed_request', 499, 'the caller closed the connection before the answer was ready');
}

export function attemptRecord(
  backend: string,
  failure: AttemptError,
  ms: number,
  chunk?: number,
  role?: 'hedge',
): AttemptRecord {
  const record: { -readonly [K in keyof AttemptRecord]: AttemptRecord[K] } = {
    backend,
    outcome: failure.status ?? failure.kind,
    ms: roundMs(ms),
  };
  if (failure.detail !== undefined) record.detail = failure.detail;
  if (chunk !== undefined) record.chunk = chunk;
  if (role !== undefined) record.role = role;
  return record;
}

export function successRecord(
  backend: string,
  ms: number,
  chunk: number | undefined,
  role: 'hedge' | undefined,
): AttemptRecord {
  const record: { -readonly [K in keyof AttemptRecord]: AttemptRecord[K] } = { backend, outcome: 200, ms: roundMs(ms) };
  if (chunk !== undefined) record.chunk = chunk;
  if (role !== undefined) record.role = role;
  return record;
}
