/** What the balancer tells the outside world about its work. Metrics implement it; tests may too. */
export type AttemptOutcome =
  | 'success'
  | 'client_error'
  | 'backend_error'
  | 'parked'
  | 'timeout'
  | 'network'
  | 'malformed'
  | 'oversized'
  | 'unavailable'
  | 'cancelled';

export interface BalancerObserver {
  attempt(backend: string, outcome: AttemptOutcome, seconds: number): void;
  retry(): void;
  retryBudgetExhausted(): void;
  fallback(): void;
  rateLimited(): void;
  /** A call split into `chunks` chunks. */
  split(chunks: number): void;
  /** A hedge: sent, or not sent because a budget was spent; then whether the hedge or the first attempt answered. */
  hedge(event: HedgeEvent): void;
}

export type HedgeEvent = 'sent' | 'budget_exhausted' | 'hedge_won' | 'first_won';

export const NO_OBSERVER: BalancerObserver = {
  attempt() {},
  retry() {},
  retryBudgetExhausted() {},
  fallback() {},
  rateLimited() {},
  split() {},
  hedge() {},
};

/** The outcome label of a failed attempt. */
export function outcomeOf(error: { clientCaused: boolean; parkMs: number | undefined; kind: string }): AttemptOutcome {
  if (error.clientCaused) return 'client_error';
  if (error.parkMs !== undefined) return 'parked';
  if (error.kind === 'status') return 'backend_error';
  return error.kind as AttemptOutcome;
}
