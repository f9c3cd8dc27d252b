/**
 * What one sidecar knows of a pool-wide rate limit's grants, kept so that its static share (Redis
 * failing) is a bound, not an estimate. Pure; local monotonic ms in, Redis's clock only as stamps.
 *
 * - `known`: the pool's counted grants at the last reply (in groups), each until it stops counting.
 * - `promised`: what Redis promised at that reply (lease-script.ts): the others' grants after it,
 *   before Redis fails or the promise lapses, are at most this. Both together bound everything
 *   the pool may have been granted before Redis failed (docs/configuration.md "Worst-case overshoot").
 * - `blind`: the sidecar's last answer was sent more than `horizonMs` before it saw Redis fail
 *   (an event loop that stalled, answers that stopped coming long before a failure): its promise
 *   may have lapsed while Redis still granted, so it takes no share until that has aged out.
 */
import { countedMs, type LeaseTiming } from './lease-timing.ts';

export interface HistReply {
  /** The slice the grant was counted in. */
  readonly slice: number;
  /** Redis's clock (ms) when it granted. */
  readonly serverMs: number;
  readonly grant: number;
  /** Redis's promise: the others' grants after this reply stay within it (lease-script.ts). */
  readonly promise: number;
  /** Flat [lastSlice, units, ...]: the pool's counted grants before this one, grouped. */
  readonly hist: readonly number[];
}

interface Known {
  readonly lastSlice: number;
  readonly units: number;
  /** Local monotonic ms when it stops counting. */
  readonly until: number;
}

interface Promised {
  readonly units: number;
  /** The slice the last grant under it could have been made in (Redis's clock). */
  readonly lastSlice: number;
  readonly until: number;
}

export class PoolKnowledge {
  readonly #timing: LeaseTiming;
  #known: Known[] = [];
  /** The promise of the last reply in shared mode. */
  #promised: Promised | undefined;
  /** While settling: the promise of the latest reply (the sidecars already shared again draw within it). */
  #settlePromised: Promised | undefined;
  #everShared = false;
  /** When the last renewal that succeeded was sent (local): Redis answered it no earlier. */
  #lastOkSentAt = Number.NEGATIVE_INFINITY;
  /** The first failure after the last success: a Redis that died did so before it. */
  #firstFailAt: number | undefined;
  #blindUntil = Number.NEGATIVE_INFINITY;

  constructor(timing: LeaseTiming) {
    this.#timing = timing;
  }

  /** What the pool had been granted at the last reply and still counts. */
  known(now: number): number {
    let sum = 0;
    for (const k of this.#known) if (k.until > now) sum += k.units;
    return sum;
  }

  /** What the others may have been granted since the last reply (Redis's promise), while it may count. */
  promised(now: number): number {
    let sum = 0;
    for (const p of [this.#promised, this.#settlePromised]) if (p !== undefined && p.until > now) sum += p.units;
    return sum;
  }

  /** Something known still counts (what a sidecar seeds back into a Redis that lost it). */
  anyLive(now: number): boolean {
    return this.#known.some((k) => k.until > now);
  }

  /**
   * What to seed back into a Redis that lost the pool's grants (born at `born`): what was known,
   * and the promise (the others' grants after the last reply, counted as late as they may have
   * been made), each at a slice before `born` (everything was granted before it), summed per slice.
   */
  seed(born: number, now: number): number[] {
    const units = new Map<number, number>();
    const put = (slice: number, n: number) => {
      const at = Math.min(slice, born - 1);
      units.set(at, (units.get(at) ?? 0) + n);
    };
    for (const k of this.#known) if (k.until > now) put(k.lastSlice, k.units);
    const p = this.#promised;
    if (p !== undefined && p.until > now) put(p.lastSlice, p.units);
    return [...units].flat();
  }

  /**
   * Redis answered a renewal sent at `sentAt`. `merge`: keep what we knew where the reply knows
   * less (outside shared mode, or after Redis lost its grants). `shared`: the sidecar spends
   * leases outside any static share from now on (else it is settling).
   */
  onReply(sentAt: number, now: number, reply: HistReply, merge: boolean, shared: boolean): void {
    const t = this.#timing;
    this.#lastOkSentAt = sentAt;
    this.#firstFailAt = undefined;
    // Redis's clock -> ours, erring late: the reply left Redis before `now`.
    const offset = now - reply.serverMs;
    const untilOf = (lastSlice: number) => (lastSlice + 1) * t.sliceMs + countedMs(t) + offset;
    // Summed by last slice: the grant's slice can be the last of a group (merging takes the larger per slice).
    const units = new Map<number, number>();
    for (let i = 0; i + 1 < reply.hist.length; i += 2)
      units.set(reply.hist[i]!, (units.get(reply.hist[i]!) ?? 0) + reply.hist[i + 1]!);
    if (reply.grant > 0) units.set(reply.slice, (units.get(reply.slice) ?? 0) + reply.grant);
    const known: Known[] = [...units].map(([lastSlice, n]) => ({ lastSlice, units: n, until: untilOf(lastSlice) }));
    this.#known = merge ? mergeKnown(this.#known, known, now) : known;
    // Grants under the promise are made before it lapses (horizonMs after the reply) and count
    // for the window after that.
    const promised = {
      units: reply.promise,
      lastSlice: Math.floor((reply.serverMs + t.horizonMs) / t.sliceMs),
      until: now + t.horizonMs + countedMs(t) + t.sliceMs,
    };
    if (shared) {
      this.#everShared = true;
      this.#promised = promised;
      this.#settlePromised = undefined;
    } else this.#settlePromised = promised;
  }

  onFailure(now: number): void {
    this.#firstFailAt ??= now;
  }

  #stale(now: number): boolean {
    if (!this.#everShared) return false;
    return (this.#firstFailAt ?? now) - this.#lastOkSentAt > this.#timing.horizonMs;
  }

  /** On the static share: once stale, blind until what it missed (granted before it saw the failure) has aged out. */
  noteStatic(now: number): void {
    if (!this.#stale(now)) return;
    const t = this.#timing;
    const until = (this.#firstFailAt ?? now) + countedMs(t) + t.sliceMs;
    if (until > this.#blindUntil) this.#blindUntil = until;
  }

  blind(now: number): boolean {
    if (!this.#stale(now)) return now < this.#blindUntil;
    const t = this.#timing;
    return now < (this.#firstFailAt ?? now) + countedMs(t) + t.sliceMs;
  }
}

/** The larger count of each group, from both snapshots (what still counts). */
function mergeKnown(a: readonly Known[], b: readonly Known[], now: number): Known[] {
  const bySlice = new Map<number, Known>();
  for (const k of [...a, ...b]) {
    if (k.until <= now) continue;
    const seen = bySlice.get(k.lastSlice);
    if (seen === undefined || k.units > seen.units) bySlice.set(k.lastSlice, k);
  }
  return [...bySlice.values()];
}
