/**
 * The clockwork of pool-wide limits: how long a lease of budget lasts, how often it is renewed,
 * how long Redis may stay silent before a sidecar falls back to its static share. The window is
 * the rpm/tpm window (60 s); the lease, renewal and slice lengths scale with it, the failure
 * timings do not (they are promises about Redis, not about the window).
 */
export interface LeaseTiming {
  /** The rpm/tpm window. */
  readonly windowMs: number;
  /** Grants are counted per slice of this length (Redis hash fields). */
  readonly sliceMs: number;
  /** Units of a lease may be spent until this long after the renewal was sent. */
  readonly leaseMs: number;
  /**
   * A call spent at the end of its lease reaches the backend a little later (event loop, network):
   * grants count this much longer, so the backend's own window stays within the limit.
   */
  readonly dispatchMarginMs: number;
  /** Renewal period while the sidecar has demand. */
  readonly renewMs: number;
  /** Renewal period of an idle sidecar (it keeps a small floor, or nothing). */
  readonly idleRenewMs: number;
  /** No successful renewal for this long: fall back to the static share. */
  readonly fallbackAfterMs: number;
  /** One Redis command may take this long before it counts as failed. */
  readonly commandTimeoutMs: number;
  /** After Redis returns, wait this long (charging what was spent meanwhile) before drawing leases again. */
  readonly settleMs: number;
  /** A concurrency lease nobody renews is dropped after this long (a dead sidecar's share). */
  readonly slotExpiryMs: number;
  /**
   * How stale a sidecar's last answer can be when Redis stops answering everyone: a renewal is
   * sent at least every `idleRenewMs` and fails within `commandTimeoutMs`; the rest is slack for
   * timers on a busy node. Own grants this recent are paid for in the static share (pool-knowledge.ts).
   */
  readonly horizonMs: number;
}

const WINDOW_MS = 60_000;

/** How long after its slice a grant counts against the window (Redis side and our copy of it). */
export function countedMs(t: LeaseTiming): number {
  return t.windowMs + t.leaseMs + t.dispatchMarginMs;
}

/** Buckets of the window a static share is counted in. */
export const STATIC_BUCKETS = 60;

/**
 * The length of the sliding window a static share is counted in: a call spent is remembered for
 * at least the window plus the dispatch margin (the window forgets a whole bucket at once, up to
 * one bucket early), so two calls of one share that reach the backend within one window are
 * always counted together.
 */
export function staticWindowMs(t: LeaseTiming): number {
  return Math.ceil(((t.windowMs + t.dispatchMarginMs) * STATIC_BUCKETS) / (STATIC_BUCKETS - 1));
}

/** The timings for a window of `windowMs` (60 s in production; tests may shorten it). */
export function leaseTiming(windowMs = WINDOW_MS): LeaseTiming {
  const scale = windowMs / WINDOW_MS;
  // Well inside fallbackAfterMs: a renewal sent when the last answer is 1 s old falls back before it answers.
  const idleRenewMs = Math.max(20, Math.round(750 * scale));
  const commandTimeoutMs = 800;
  return {
    windowMs,
    sliceMs: Math.max(1, Math.round(500 * scale)),
    leaseMs: Math.max(20, Math.round(1000 * scale)),
    dispatchMarginMs: 500,
    renewMs: Math.max(5, Math.round(250 * scale)),
    idleRenewMs,
    fallbackAfterMs: 1000,
    commandTimeoutMs,
    settleMs: 1500,
    slotExpiryMs: 3000,
    horizonMs: idleRenewMs + commandTimeoutMs + 400,
  };
}
