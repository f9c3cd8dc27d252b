/**
 * What a backend reports about its own load, and how old that report may be. Many sidecars share
 * one backend, and each sees only its own in-flight calls; the backend sees them all. Two sources:
 *
 * - answer headers (free, on every answer): TEI's `x-queue-time` and `x-inference-time` (ms). Their
 *   ratio is how many service times the call waited in the backend's queue: the calls ahead of it
 *   per slot. Smoothed lightly, since one answer is one sample.
 * - the backend's /metrics (scraped only when `scrape_backend_metrics` is on): the queue metric's
 *   value, the calls waiting (TEI `te_queue_size`, vLLM `vllm:num_requests_waiting`).
 *
 * A report older than twice `load_signal_interval` is stale: the backend has not been asked (or
 * scraped) lately, and a stale queue would keep traffic off it for good. Stale means no reading,
 * and strategies fall back to the sidecar's own in-flight count. The scrape wins while fresh (it
 * counts calls; headers estimate them).
 */

export type SignalSource = 'metrics' | 'headers';

export interface SignalReading {
  readonly queue: number;
  /** Monotonic ms of the report. */
  readonly at: number;
  readonly source: SignalSource;
}

/** A new header sample weighs this much against the previous (fresh) estimate. */
const HEADER_SMOOTHING = 0.5;

/** The window a sidecar starts with at a backend, in calls at once (saturation_queue on). */
export const INITIAL_WINDOW = 1;
/** A report at or above saturation_queue cuts the window to this share (at most once per interval). */
const WINDOW_CUT = 0.7;
const MAX_WINDOW = 10_000;

export class LoadSignal {
  #headerQueue = 0;
  #headerAt = Number.NEGATIVE_INFINITY;
  #metricsQueue = 0;
  #metricsAt = Number.NEGATIVE_INFINITY;
  /** Scrapes that failed in a row (shown in stats; a failing scrape leaves the reading to go stale). */
  scrapeFailures = 0;
  intervalMs: number;
  /** saturation_queue (the queue on): the report at which the backend counts as full; undefined: off. */
  saturationQueue: number | undefined;
  /**
   * With saturation_queue on: the calls this sidecar may have at the backend at once while its
   * reports are fresh — additive increase, multiplicative decrease on the backend's own reports,
   * as TCP does on a shared link. It starts at one call. A report below saturation_queue while the
   * window is in use grows it by 1/sidecar_count per scrape (1/(window x sidecar_count) per
   * answer), so the fleet's windows together grow by about one call per report, not one per
   * sidecar; one at or above cuts it to 70% (at most once per interval). Each sidecar's own answers free its window at once (no waiting for the next
   * report), and many sidecars on one backend settle where its queue stays near saturation_queue:
   * calls wait in the sidecars, by priority, instead of in the backend's first-come queue. A busy
   * sidecar's window grows while the light ones leave theirs unused.
   */
  window = INITIAL_WINDOW;
  #windowCutAt = Number.NEGATIVE_INFINITY;
  /** sidecar_count: the window grows by 1/sidecar_count per report, so the fleet's together grow by about one call per report. */
  sidecars = 1;

  constructor(intervalMs: number) {
    this.intervalMs = intervalMs;
  }

  /** The settings of a (re)loaded config: load_signal_interval, saturation_queue, sidecar_count. */
  configure(intervalMs: number, saturationQueue: number | undefined, sidecars: number): void {
    this.intervalMs = intervalMs;
    this.saturationQueue = saturationQueue;
    this.sidecars = sidecars;
  }

  /** An answer's timing headers (ms), `inFlight` this sidecar's calls there. Ignored unless both are finite and >= 0. */
  fromHeaders(queueMs: number, inferenceMs: number, now: number, inFlight = 0): void {
    if (!(queueMs >= 0) || !(inferenceMs >= 0) || !Number.isFinite(queueMs) || !Number.isFinite(inferenceMs)) return;
    const sample = queueMs / Math.max(1, inferenceMs);
    const fresh = now - this.#headerAt <= 2 * this.intervalMs;
    this.#headerQueue = fresh ? this.#headerQueue * (1 - HEADER_SMOOTHING) + sample * HEADER_SMOOTHING : sample;
    this.#headerAt = now;
    // While a scrape is fresh it is the report the window follows.
    if (now - this.#metricsAt > 2 * this.intervalMs)
      this.#adapt(sample, inFlight, now, 1 / (this.sidecars * Math.max(1, this.window)));
  }

  /** A scraped queue value (calls waiting), `inFlight` this sidecar's calls there. */
  fromMetrics(queue: number, now: number, inFlight = 0): void {
    if (!(queue >= 0) || !Number.isFinite(queue)) return;
    this.#metricsQueue = queue;
    this.#metricsAt = now;
    this.scrapeFailures = 0;
    this.#adapt(queue, inFlight, now, 1 / this.sidecars);
  }

  #adapt(queue: number, inFlight: number, now: number, increase: number): void {
    const threshold = this.saturationQueue;
    if (threshold === undefined) return;
    if (queue >= threshold) {
      if (now - this.#windowCutAt < this.intervalMs) return;
      this.#windowCutAt = now;
      this.window = Math.max(1, this.window * WINDOW_CUT);
    } else if (inFlight + 1 >= this.window) {
      // Only a window in use (full, or one call from it) grows: an idle sidecar's would say nothing about the backend.
      this.window = Math.min(MAX_WINDOW, this.window + increase);
    }
  }

  /** Full for this sidecar: saturation_queue on, a fresh report, and its window in use. */
  saturated(now: number, inFlight: number): boolean {
    return (
      this.saturationQueue !== undefined && inFlight >= Math.floor(this.window) && !Number.isNaN(this.queueAt(now))
    );
  }

  /** The freshest usable report, or undefined when every report is older than twice the interval. */
  reading(now: number): SignalReading | undefined {
    const maxAge = 2 * this.intervalMs;
    if (now - this.#metricsAt <= maxAge) return { queue: this.#metricsQueue, at: this.#metricsAt, source: 'metrics' };
    if (now - this.#headerAt <= maxAge) return { queue: this.#headerQueue, at: this.#headerAt, source: 'headers' };
    return undefined;
  }

  /** The answer headers' queue now, in service times waited (calls ahead per slot); NaN when stale or never sent. */
  waitAt(now: number): number {
    return now - this.#headerAt <= 2 * this.intervalMs ? this.#headerQueue : Number.NaN;
  }

  /** The reported queue now, NaN when stale (no allocation: the strategies' hot path). */
  queueAt(now: number): number {
    const maxAge = 2 * this.intervalMs;
    if (now - this.#metricsAt <= maxAge) return this.#metricsQueue;
    if (now - this.#headerAt <= maxAge) return this.#headerQueue;
    return Number.NaN;
  }
}
