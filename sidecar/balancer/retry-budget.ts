/**
 * Finagle's retry budget: over the last 10 s, retries may be at most `percent` of the requests
 * started, plus a floor of `minPerSecond` retries per second. A burst (the timeouts of one stalled
 * backend arriving together) fits; a sustained storm (every backend failing, every call retried)
 * is capped. Envoy's concurrency-based budget (20% of requests in flight, min 3) refused exactly
 * such bursts in our chaos runs, failing calls that a healthy backend could have served.
 */
import type { Clock } from '../../common/clock.ts';
import { SlidingWindow } from './sliding-window.ts';

const WINDOW_MS = 10_000;

export class RetryBudget {
  percent: number;
  minPerSecond: number;
  readonly #clock: Clock;
  readonly #requests = new SlidingWindow(WINDOW_MS, 10);
  readonly #retries = new SlidingWindow(WINDOW_MS, 10);
  #active = 0;
  #retrying = 0;

  constructor(percent: number, minPerSecond: number, clock: Clock) {
    this.percent = percent;
    this.minPerSecond = minPerSecond;
    this.#clock = clock;
  }

  requestStarted(): void {
    this.#active++;
    this.#requests.add(this.#clock.now(), 1);
  }

  requestEnded(): void {
    this.#active--;
  }

  tryStartRetry(): boolean {
    const now = this.#clock.now();
    const allowed = (this.minPerSecond * WINDOW_MS) / 1000 + (this.percent / 100) * this.#requests.total(now);
    if (this.#retries.total(now) + 1 > allowed) return false;
    this.#retries.add(now, 1);
    this.#retrying++;
    return true;
  }

  retryEnded(): void {
    this.#retrying--;
  }

  toJSON(): { active_requests: number; retries_in_flight: number; retries_last_10s: number } {
    return {
      active_requests: this.#active,
      retries_in_flight: this.#retrying,
      retries_last_10s: this.#retries.total(this.#clock.now()),
    };
  }
}
