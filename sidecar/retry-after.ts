/**
 * Retry-After, both ways, owned here. In: a backend asks for a pause (429, or 503 with
 * Retry-After): the header is parsed (seconds or an HTTP date), clamped, and becomes the backend's
 * park. Out: our own answers ask callers to wait whole seconds, never less than one.
 */
import { LbError } from './errors.ts';

/** A 429 without a readable Retry-After (TEI and Infinity send none) parks a backend this long. */
const DEFAULT_PARK_MS = 1000;
/** The longest pause a backend can ask for: a bad or hostile header must not take it out for good. */
export const MAX_PARK_MS = 5 * 60 * 1000;
/** What a caller is told when nothing better is known: try again in a second. */
export const RETRY_SOON_SECONDS = 1;

/** Retry-After as seconds or an HTTP date -> ms from now, clamped to 0..MAX_PARK_MS; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | string[] | undefined, wallNow: number): number | undefined {
  const raw = Array.isArray(value) ? value[0] : value;
  if (raw === undefined || raw.trim() === '') return undefined;
  const seconds = Number(raw);
  const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(raw) - wallNow;
  if (!Number.isFinite(ms)) return undefined;
  return Math.min(Math.max(ms, 0), MAX_PARK_MS);
}

/**
 * How long an answer parks its backend: a 429 always (its Retry-After, else DEFAULT_PARK_MS), a
 * 503 only when it says Retry-After (a bare 503 is a failure); other statuses never.
 */
export function parkMsFor(status: number, retryAfterMs: number | undefined): number | undefined {
  if (status === 429) return retryAfterMs ?? DEFAULT_PARK_MS;
  if (status === 503) return retryAfterMs;
  return undefined;
}

/** Records a park: the later of the park in force and `now + parkMs` (a shorter ask never cuts a longer one). */
export function parkedUntil(current: number, now: number, parkMs: number): number {
  return Math.max(current, now + parkMs);
}

/** Whole seconds a caller is told to wait for `ms` (rounded up, at least 1; unknown: 1). */
export function retryAfterSeconds(ms: number): number {
  return Math.max(RETRY_SOON_SECONDS, Math.ceil((Number.isFinite(ms) ? ms : 1000) / 1000));
}

/** The Retry-After header value of one of our answers, or undefined for none. */
export function retryAfterHeader(seconds: number | undefined): string | undefined {
  return seconds === undefined ? undefined : String(Math.max(RETRY_SOON_SECONDS, Math.ceil(seconds)));
}

/**
 * Our own 429 (every backend at its limit, a full queue, a pool-wide budget spent): `rate_limited`,
 * telling the caller to come back in `waitMs` (as whole seconds).
 */
export function rateLimited(message: string, waitMs: number): LbError {
  return new LbError('rate_limited', 429, message, { retryAfterSeconds: retryAfterSeconds(waitMs) });
}
