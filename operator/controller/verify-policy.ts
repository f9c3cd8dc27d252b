/**
 * Pure: when to ask a pool's sidecars again. A synced pool is re-verified every `resyncMs` (a
 * sidecar can fall back to a stale config at any time, e.g. a restart onto an old mounted file);
 * a lagging one sooner, backing off exponentially while it keeps lagging. Jitter spreads the
 * pools so they are not all asked at once.
 */
import type { Random } from '../../common/clock.ts';

export interface VerifyPolicy {
  readonly resyncMs: number;
  readonly lagBaseMs: number;
  readonly lagMaxMs: number;
  /** Fraction of the delay added or removed at random (0.1: +/-10%). */
  readonly jitter: number;
}

export const DEFAULT_VERIFY_POLICY: VerifyPolicy = { resyncMs: 30_000, lagBaseMs: 1000, lagMaxMs: 30_000, jitter: 0.1 };

/** What the reconcile found: no sidecars to ask, all of them on the wanted config, or some not. */
export type SidecarState = 'none' | 'synced' | 'lagging';

export interface VerifyStep {
  /** undefined: nothing to verify until an event says otherwise. */
  readonly delayMs: number | undefined;
  /** Consecutive lagging verifications, the backoff's exponent. */
  readonly lagStreak: number;
}

export function nextVerification(
  state: SidecarState,
  lagStreak: number,
  policy: VerifyPolicy,
  random: Random,
): VerifyStep {
  const jittered = (ms: number) => Math.round(ms * (1 - policy.jitter + 2 * policy.jitter * random()));
  if (state === 'none') return { delayMs: undefined, lagStreak: 0 };
  if (state === 'synced') return { delayMs: jittered(policy.resyncMs), lagStreak: 0 };
  const delay = Math.min(policy.lagMaxMs, policy.lagBaseMs * 2 ** Math.min(lagStreak, 20));
  return { delayMs: jittered(delay), lagStreak: lagStreak + 1 };
}
