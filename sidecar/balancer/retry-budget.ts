/**
 * Envoy's retry budget: retries in flight may be at most `percent` of the requests in flight, and
 * at least `min`. Stops a failing backend from multiplying the load on the others.
 */
export class RetryBudget {
  #active = 0;
  #retrying = 0;
  percent: number;
  min: number;

  constructor(percent: number, min: number) {
    this.percent = percent;
    this.min = min;
  }

  requestStarted(): void {
    this.#active++;
  }

  requestEnded(): void {
    this.#active--;
  }

  tryStartRetry(): boolean {
    const limit = Math.max(this.min, Math.floor((this.#active * this.percent) / 100));
    if (this.#retrying >= limit) return false;
    this.#retrying++;
    return true;
  }

  retryEnded(): void {
    this.#retrying--;
  }

  toJSON(): { active_requests: number; retries_in_flight: number } {
    return { active_requests: this.#active, retries_in_flight: this.#retrying };
  }
}
