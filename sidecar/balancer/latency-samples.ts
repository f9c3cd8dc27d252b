/** The last N latencies, for p50/p95/p99 in /lb/stats. Recording is one array write. */
export class LatencySamples {
  readonly #values: Float64Array;
  #count = 0;

  constructor(size = 1024) {
    this.#values = new Float64Array(size);
  }

  record(ms: number): void {
    this.#values[this.#count % this.#values.length] = ms;
    this.#count++;
  }

  percentiles(): { p50: number | null; p95: number | null; p99: number | null } {
    const n = Math.min(this.#count, this.#values.length);
    if (n === 0) return { p50: null, p95: null, p99: null };
    const sorted = this.#values.slice(0, n).sort();
    const at = (q: number) => Math.round(sorted[Math.min(n - 1, Math.ceil(q * n) - 1)]! * 100) / 100;
    return { p50: at(0.5), p95: at(0.95), p99: at(0.99) };
  }
}
