/**
 * One backend's circuit breaker, on the injected clock. An attempt ends in one of three verdicts
 * (attempt-error.ts `verdictOf`): success, failure, or neutral — an attempt we abandoned (a hedge
 * loser, a caller who left) or never sent says nothing about the backend. opossum, which this
 * replaces, knows only two (its `errorFilter` turns an excluded error into a success, so a
 * cancelled half-open probe closed the breaker) and runs its cooldown on real timers.
 */
import type { BreakerSettings } from '../config/model.ts';
import type { AttemptVerdict } from '../backends/attempt-error.ts';
import { SlidingWindow } from './sliding-window.ts';

export type BreakerState = 'closed' | 'open' | 'half-open';

/**
 * What `tryAcquire` granted: a call while closed, the half-open probe, or a last resort's call
 * beside the probe (its verdict changes nothing: the probe decides).
 */
export type BreakerTicket = 'closed' | 'probe' | 'beside-probe';

export class Breaker {
  readonly settings: BreakerSettings;
  #open = false;
  #openedAt = 0;
  #probeOut = false;
  #failuresInARow = 0;
  readonly #successes: SlidingWindow;
  readonly #failures: SlidingWindow;

  constructor(settings: BreakerSettings) {
    this.settings = settings;
    this.#successes = new SlidingWindow(settings.windowMs, 10);
    this.#failures = new SlidingWindow(settings.windowMs, 10);
  }

  /** Open until `cooldown_time` has passed, then half-open (no timer: read from the clock). */
  state(now: number): BreakerState {
    if (!this.#open) return 'closed';
    return now >= this.reopensAt ? 'half-open' : 'open';
  }

  /** Closed, or half-open with its single probe not yet taken. */
  admits(now: number): boolean {
    const state = this.state(now);
    return state === 'closed' || (state === 'half-open' && !this.#probeOut);
  }

  /** When an open breaker lets a probe through (monotonic ms). */
  get reopensAt(): number {
    return this.#openedAt + this.settings.cooldownMs;
  }

  /**
   * Not open: closed, or half-open even with its probe out. What a last resort needs (every other
   * backend is out): a call beside the probe rather than a refusal (balancer's ejection panic).
   */
  admitsAsLastResort(now: number): boolean {
    return this.state(now) !== 'open';
  }

  /** Takes the right to send one attempt now, or undefined when the breaker refuses. `lastResort`: see admitsAsLastResort. */
  tryAcquire(now: number, lastResort = false): BreakerTicket | undefined {
    const state = this.state(now);
    if (state === 'closed') return 'closed';
    if (state === 'open') return undefined;
    if (this.#probeOut) return lastResort ? 'beside-probe' : undefined;
    this.#probeOut = true;
    return 'probe';
  }

  /**
   * An attempt's verdict. The probe decides the half-open breaker: success closes it, failure opens
   * it for another cooldown, neutral frees the probe for the next call. Verdicts of attempts sent
   * before the breaker opened change nothing while it is open (a late failure must not extend the
   * cooldown, a late success is not the probe).
   */
  record(ticket: BreakerTicket, verdict: AttemptVerdict, now: number): void {
    if (verdict === 'neutral') {
      if (ticket === 'probe') this.#probeOut = false;
      return;
    }
    if (ticket === 'beside-probe') return;
    if (ticket === 'probe') {
      if (verdict === 'success') this.#close();
      else this.#trip(now);
      return;
    }
    if (this.#open) return;
    if (verdict === 'success') {
      this.#failuresInARow = 0;
      this.#successes.add(now, 1);
      return;
    }
    this.#failuresInARow++;
    this.#failures.add(now, 1);
    if (this.#failuresInARow > this.settings.allowedFails || this.#rateExceeded(now)) this.#trip(now);
  }

  /** At least failure_threshold_percent % of at least failure_threshold_min_requests calls in the window failed. */
  #rateExceeded(now: number): boolean {
    const failures = this.#failures.total(now);
    const calls = failures + this.#successes.total(now);
    return (
      calls >= this.settings.failureThresholdMinRequests &&
      failures * 100 >= this.settings.failureThresholdPercent * calls
    );
  }

  #trip(now: number): void {
    this.#open = true;
    this.#openedAt = now;
    this.#probeOut = false;
  }

  /** A good probe: a fresh start (the failures that opened it are history). */
  #close(): void {
    this.#open = false;
    this.#probeOut = false;
    this.#failuresInARow = 0;
    this.#successes.clear();
    this.#failures.clear();
  }
}
