/**
 * What an informer does next, as client-go's reflector decides it (tools/cache/reflector.go), as
 * pure functions of its state and what just happened, so every branch is tested on a manual clock:
 * - the first list is served from the API server's watch cache (`resourceVersion=0`); later lists
 *   from the cache too, at least as fresh as what we saw (`resourceVersion=<last>`,
 *   `resourceVersionMatch=NotOlderThan`, unpaged: the cache serves only unpaged lists at an RV);
 * - only when the server says that RV is unusable (410 Gone / Expired, or too large) is the next
 *   list a consistent one (no resourceVersion), paged with `limit`/`continue`;
 * - a watch the server ends resumes from the last resourceVersion without a list;
 * - every failure backs off exponentially with jitter (a watch that closes at once, within a
 *   second and without an event, is a failure), at least as long as a Retry-After asks;
 * - the backoff starts over after `resetMs` without a failure (client-go: 800 ms, 30 s, 2 min).
 */
import { KubeApiError } from './api.ts';

export interface ReflectorState {
  /** The last resourceVersion seen (list, event or bookmark); undefined before the first list. */
  readonly rv: string | undefined;
  /** The server refused `rv` (expired or too new): the next list is a consistent one. */
  readonly rvUnavailable: boolean;
  /** A `resourceVersion=0` list came back in pages: no watch cache serves this resource, keep paging. */
  readonly paged: boolean;
  /** Failures since the backoff last started over. */
  readonly failures: number;
  readonly lastFailureAt: number | undefined;
}

export const INITIAL_STATE: ReflectorState = {
  rv: undefined,
  rvUnavailable: false,
  paged: false,
  failures: 0,
  lastFailureAt: undefined,
};

export interface BackoffTuning {
  readonly baseMs: number;
  readonly maxMs: number;
  /** Quiet time after which the backoff starts over from `baseMs`. */
  readonly resetMs: number;
  /** Objects per page of a paged list. */
  readonly pageSize: number;
}

export const DEFAULT_TUNING: BackoffTuning = { baseMs: 800, maxMs: 30_000, resetMs: 120_000, pageSize: 500 };

/** A watch shorter than this with no event at all is a failure ("very short watch" in client-go). */
const SHORT_WATCH_MS = 1000;

/** What went wrong, in the terms the decisions need. */
export type Failure =
  /** 410 Gone / Expired, or "too large resource version": the RV we asked with is unusable. */
  | { readonly kind: 'rv-unusable'; readonly message: string }
  /** 429: the server sheds load; Retry-After in ms, if it said. */
  | { readonly kind: 'throttled'; readonly message: string; readonly retryAfterMs: number | undefined }
  /** Any other status from the server (500, 403, an ERROR event). */
  | { readonly kind: 'status'; readonly message: string; readonly retryAfterMs: number | undefined }
  /** No response or a broken stream (refused, reset, TLS); the RV we hold is still good. */
  | { readonly kind: 'network'; readonly message: string };

export function classify(error: unknown): Failure {
  if (error instanceof KubeApiError) {
    const retryAfterMs = error.retryAfterSeconds === undefined ? undefined : error.retryAfterSeconds * 1000;
    if (error.status === 410 || error.reason === 'Expired' || error.reason === 'Gone')
      return { kind: 'rv-unusable', message: error.message };
    // The watch cache answers 504 "Too large resource version" when it cannot catch up to our RV.
    if (/too large resource version/i.test(error.message) || error.reason === 'ResourceVersionTooLarge')
      return { kind: 'rv-unusable', message: error.message };
    if (error.status === 429) return { kind: 'throttled', message: error.message, retryAfterMs };
    if (error.status > 0) return { kind: 'status', message: error.message, retryAfterMs };
  }
  const message =
    error instanceof Error
      ? `${error.message}${error.cause instanceof Error ? ` (${error.cause.message})` : ''}`
      : String(error);
  return { kind: 'network', message };
}

/** The query of the next list's first page (besides the selectors). */
export function listQuery(state: ReflectorState, tuning: BackoffTuning): Record<string, string | undefined> {
  if (state.rvUnavailable) return { limit: String(tuning.pageSize) }; // consistent, paged
  if (state.rv === undefined) return { resourceVersion: '0', limit: String(tuning.pageSize) }; // the cache ignores limit at RV 0
  if (state.paged)
    return { resourceVersion: state.rv, resourceVersionMatch: 'NotOlderThan', limit: String(tuning.pageSize) };
  return { resourceVersion: state.rv, resourceVersionMatch: 'NotOlderThan' };
}

/** The next step: list (pages) or watch (from `state.rv`), after `delayMs`. */
export interface Step {
  readonly state: ReflectorState;
  readonly next: 'list' | 'watch';
  readonly delayMs: number;
  /** Set when this was a failure (counted as a restart, logged). */
  readonly failure?: string;
}

/** Base x 2^(n-1), capped, then jittered up to twice that (client-go's jitter factor 1.0). */
export function backoffMs(failures: number, tuning: BackoffTuning, random: () => number): number {
  const delay = Math.min(tuning.maxMs, tuning.baseMs * 2 ** Math.min(failures - 1, 20));
  return delay * (1 + random());
}

function failed(
  state: ReflectorState,
  failure: Failure,
  next: 'list' | 'watch',
  now: number,
  tuning: BackoffTuning,
  random: () => number,
  patch: Partial<ReflectorState> = {},
): Step {
  const restart = state.lastFailureAt === undefined || now - state.lastFailureAt >= tuning.resetMs;
  const failures = restart ? 1 : state.failures + 1;
  const retryAfterMs = failure.kind === 'throttled' || failure.kind === 'status' ? (failure.retryAfterMs ?? 0) : 0;
  return {
    state: { ...state, ...patch, failures, lastFailureAt: now },
    next,
    delayMs: Math.max(backoffMs(failures, tuning, random), retryAfterMs),
    failure: failure.message,
  };
}

/** After a list: the pages' resourceVersion, whether it came paged, and with what query. */
export function afterList(
  state: ReflectorState,
  listed: { rv: string; pagedResult: boolean; query: Record<string, string | undefined> },
): Step {
  const paged = state.paged || (listed.query.resourceVersion === '0' && listed.pagedResult);
  return { state: { ...state, rv: listed.rv, rvUnavailable: false, paged }, next: 'watch', delayMs: 0 };
}

/** After a failed list: an unusable RV falls back to a consistent list at once; anything else backs off. */
export function afterListFailure(
  state: ReflectorState,
  error: unknown,
  now: number,
  tuning: BackoffTuning,
  random: () => number,
): Step {
  const failure = classify(error);
  if (failure.kind === 'rv-unusable' && !state.rvUnavailable)
    return { state: { ...state, rvUnavailable: true }, next: 'list', delayMs: 0 };
  return failed(state, failure, 'list', now, tuning, random);
}

/** How a watch ended: by the server (or a dropped stream), or with an error; how long and with how many events. */
export type WatchEnd =
  | { readonly how: 'ended'; readonly ms: number; readonly events: number }
  | { readonly how: 'failed'; readonly error: unknown; readonly ms: number; readonly events: number }
  /** The watchdog: no event, not even a bookmark, for much longer than the server's own timeout. */
  | { readonly how: 'silent'; readonly ms: number }
  /** Our own periodic re-list asked for it. */
  | { readonly how: 'relist' };

export function afterWatch(
  state: ReflectorState,
  end: WatchEnd,
  now: number,
  tuning: BackoffTuning,
  random: () => number,
): Step {
  switch (end.how) {
    case 'relist':
      return { state, next: 'list', delayMs: 0 };
    case 'silent':
      return failed(
        state,
        { kind: 'network', message: `no watch event for ${Math.round(end.ms)} ms` },
        'watch',
        now,
        tuning,
        random,
      );
    case 'ended':
      // The server's timeout, or a proxy's: resume where we were. A watch that closes at once is not healthy.
      if (end.ms < SHORT_WATCH_MS && end.events === 0)
        return failed(
          state,
          { kind: 'network', message: 'the watch closed at once, without an event' },
          'list',
          now,
          tuning,
          random,
        );
      return { state, next: 'watch', delayMs: 0 };
    case 'failed': {
      const failure = classify(end.error);
      // A stream cut mid-way is an end (client-go reads a probable EOF as one): the RV we hold is good.
      if (failure.kind === 'network')
        return end.events > 0 || end.ms >= SHORT_WATCH_MS
          ? { state, next: 'watch', delayMs: 0 }
          : failed(state, failure, 'watch', now, tuning, random);
      if (failure.kind === 'throttled') return failed(state, failure, 'watch', now, tuning, random);
      // 410 and the rest: list again, from the cache at the RV we hold (not older than it), after a backoff.
      return failed(state, failure, 'list', now, tuning, random);
    }
  }
}
