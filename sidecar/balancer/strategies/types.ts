import type { Random } from '../../../common/clock.ts';

/** What a strategy may read about a candidate backend. Read-only. */
export interface CandidateView {
  readonly id: string;
  readonly weight: number;
  readonly priority: number;
  readonly inFlight: number;
  readonly costPerToken: number;
  /** Peak-EWMA of latency per document (ms), as of `latencyAt`; NaN before the first sample. */
  readonly latencyEwma: number;
  readonly latencyAt: number;
  /** Tokens charged in the current sliding window, and the tpm limit if any. */
  readonly tokensInWindow: number;
  readonly tpmLimit: number | undefined;
  /** Calls waiting at the backend as the backend itself reports them; NaN when it reports none or the report is stale. */
  readonly reportedQueue: number;
  /** The wait its answers report (TEI headers), in service times: one unit for every backend, whatever its size; NaN when stale or none. */
  readonly reportedWait: number;
}

/** A strategy keeps its own entries in `PickContext.memory` under keys that start with this (no backend id does). */
export const OWN_MEMORY_KEY = '\u0000';

export interface PickContext {
  readonly random: Random;
  /** Monotonic ms, for time-decayed estimates. */
  readonly now: number;
  readonly latencyDecayMs: number;
  /**
   * State a strategy carries between picks (round-robin's credits), keyed by backend id. The
   * balancer owns it and hands the same map to every pick of one config generation.
   */
  readonly memory: Map<string, number>;
}

/** Picks one of `candidates` (never empty) and returns its position. */
export type Strategy = (candidates: readonly CandidateView[], ctx: PickContext) => number;
