import type { RequestOutcome } from '../metrics/metrics.ts';

/** HTTP requests being answered, until their response is fully written; shutdown waits for zero. */
export class InFlight {
  count = 0;
  #waiters: (() => void)[] = [];

  enter(): void {
    this.count++;
  }

  leave(): void {
    this.count--;
    if (this.count === 0) for (const wake of this.#waiters.splice(0)) wake();
  }

  idle(): Promise<void> {
    return this.count === 0 ? Promise.resolve() : new Promise((resolve) => this.#waiters.push(resolve));
  }
}

/** Totals for /lb/stats, by outcome. */
export class RequestTotals {
  readonly byOutcome: Record<RequestOutcome, number> = {
    success: 0,
    fallback: 0,
    client_error: 0,
    cancelled: 0,
    rate_limited: 0,
    unavailable: 0,
    error: 0,
  };
  requests = 0;

  record(outcome: RequestOutcome): void {
    this.requests++;
    this.byOutcome[outcome]++;
  }

  toJSON(): Record<string, number> {
    return { requests: this.requests, ...this.byOutcome };
  }
}

export function outcomeOfStatus(status: number, local: boolean): RequestOutcome {
  if (status < 300) return local ? 'fallback' : 'success';
  if (status === 429) return 'rate_limited';
  if (status === 499) return 'cancelled';
  if (status < 500) return 'client_error';
  if (status === 503) return 'unavailable';
  return 'error';
}
