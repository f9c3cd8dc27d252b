/**
 * The pool's recent attempt latencies, for the hedge delay (p95). Kept only while hedging is on;
 * the p95 is recomputed every `every` samples, not per call.
 */
export class RecentLatency {
  readonly #values: Float64Array;
  readonly #minSamples: number;
  readonly #every: number;
  #count = 0;
  #p95: number | undefined;

  constructor(size = 256, minSamples = 20, every = 16) {
    this.#values = new Float64Array(size);
    this.#minSamples = minSamples;
    this.#every = every;
  }

  record(ms: number): void {
    this.#values[this.#count % this.#values.length] = ms;
    this.#count++;
    if (this.#count >= this.#minSamples && (this.#p95 === undefined || this.#count % this.#every === 0)) {
      const n = Math.min(this.#count, this.#values.length);
      const sorted = this.#values.slice(0, n).sort();
      this.#p95 = sorted[Math.min(n - 1, Math.ceil(0.95 * n) - 1)];
    }
  }

  /** p95 in ms, or undefined before `minSamples` samples. */
  get p95(): number | undefined {
    return this.#p95;
  }
}
