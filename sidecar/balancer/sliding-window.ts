/**
 * A sum over the last `windowMs`, in `buckets` slices (60 one-second slices for rpm/tpm): a
 * sliding window, not a fixed minute boundary. Time is passed in, so tests drive it directly.
 */
export class SlidingWindow {
  readonly windowMs: number;
  readonly #sliceMs: number;
  readonly #sums: Float64Array;
  readonly #starts: Float64Array;

  constructor(windowMs = 60_000, buckets = 60) {
    this.windowMs = windowMs;
    this.#sliceMs = windowMs / buckets;
    this.#sums = new Float64Array(buckets);
    this.#starts = new Float64Array(buckets).fill(Number.NEGATIVE_INFINITY);
  }

  add(now: number, amount: number): void {
    const start = Math.floor(now / this.#sliceMs) * this.#sliceMs;
    const i = Math.floor(now / this.#sliceMs) % this.#sums.length;
    if (this.#starts[i] !== start) {
      this.#starts[i] = start;
      this.#sums[i] = 0;
    }
    this.#sums[i]! += amount;
  }

  clear(): void {
    this.#sums.fill(0);
    this.#starts.fill(Number.NEGATIVE_INFINITY);
  }

  total(now: number): number {
    const oldest = now - this.windowMs;
    let sum = 0;
    for (let i = 0; i < this.#sums.length; i++) if (this.#starts[i]! > oldest) sum += this.#sums[i]!;
    return sum;
  }

  /** Milliseconds until the sum drops to `limit - amount` or below, as old slices expire. */
  msUntilRoom(now: number, limit: number, amount: number): number {
    let excess = this.total(now) + amount - limit;
    if (excess <= 0) return 0;
    const oldest = now - this.windowMs;
    const live: number[] = [];
    for (let i = 0; i < this.#sums.length; i++) if (this.#starts[i]! > oldest) live.push(i);
    live.sort((a, b) => this.#starts[a]! - this.#starts[b]!);
    for (const i of live) {
      excess -= this.#sums[i]!;
      if (excess <= 0) return Math.max(0, this.#starts[i]! + this.windowMs - now);
    }
    return this.windowMs;
  }
}
