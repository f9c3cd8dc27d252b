/**
 * One pool-wide rate limit (a backend's rpm or tpm) as this sidecar sees it: the leases of budget
 * it holds, what it owes or returns, and the static share it falls back to. Pure: time comes in as
 * arguments, Redis is someone else's job (redis-link.ts sends `renewRequest`, feeds `onReply` or
 * `onFailure`). Calls spend local units only: no Redis round trip per call.
 *
 * Shared mode. Redis keeps the pool's grants per slice of time (lease-script.ts). A renewal asks
 * for what the sidecar's recent demand needs for the next lease; the script grants at most what
 * the window has left. A lease's units may be spent from the renewal's reply until `leaseMs` after
 * it was sent, and the script counts a grant for `windowMs + leaseMs`, so any spend lies within the
 * window its grant was counted in: the backend sees at most `limit` in any window. Units a lease
 * did not use go back at the next renewal; tpm corrections (the backend's reported usage) are
 * owed as debt and charged at the next renewal.
 *
 * Static mode (Redis unreachable, slow, refusing auth; or never reached yet). Each sidecar may use
 * `floor((limit - known) / sidecars)` in the window, where `known` is what the pool had been
 * granted at the sidecar's last reply and still counts: right after Redis fails, what the fleet
 * had already used stays counted; once it has aged out, the share is `ceil(limit / sidecars)`. When
 * Redis answers again, the sidecar charges what it spent meanwhile and waits `settleMs` (so every
 * sidecar has charged too) before it draws leases again.
 */
import { SlidingWindow } from '../balancer/sliding-window.ts';
import { countedMs, type LeaseTiming } from './lease-timing.ts';

export type LimitMode = 'shared' | 'static';

export interface RenewRequest {
  readonly want: number;
  /** Grant only what leaves this much of the window free (a floor for an idle sidecar). */
  readonly minFree: number;
  /** Units spent beyond leases (tpm corrections, static-mode use): counted now, unconditionally. */
  readonly charge: number;
  /** Flat [slice, units, ...]: unused units of expired leases. */
  readonly refunds: readonly number[];
  /** Flat [slice, units, ...]: after Redis lost the pool's grants, what this sidecar knew of them. */
  readonly seed: readonly number[];
}

export interface RenewReply {
  readonly grant: number;
  /** The slice the grant was counted in. */
  readonly slice: number;
  /** Redis's clock (ms) when it granted. */
  readonly serverMs: number;
  /** The key did not exist: Redis was flushed or restarted (or this is the pool's first grant). */
  readonly fresh: boolean;
  /** Flat [lastSlice, units, ...]: the pool's counted grants, grouped; each counts until its last slice ends + window + lease. */
  readonly hist: readonly number[];
}

interface Batch {
  units: number;
  readonly slice: number;
  /** Local monotonic ms: spendable before this. */
  readonly validUntil: number;
}

interface Known {
  readonly lastSlice: number;
  readonly units: number;
  /** Local monotonic ms when it stops counting. */
  readonly until: number;
}

interface Pending {
  readonly charge: number;
}

/** An idle sidecar keeps a floor lease only while the pool has this share of its window free. */
const FLOOR_FREE_FRACTION = 0.1;
/** A lease covers the recent demand times this. */
const HEADROOM = 1.25;

export class RateLedger {
  limit: number;
  sidecars: number;
  readonly timing: LeaseTiming;
  #mode: LimitMode = 'static';
  #batches: Batch[] = [];
  #debt = 0;
  #refunds: number[] = [];
  /** Static-mode spends not yet charged to Redis. */
  #uncharged = 0;
  readonly #demand: SlidingWindow;
  readonly #demandMs: number;
  #unmet = 0;
  /** Largest single spend seen: the floor of an idle sidecar is one such call. */
  #largest = 1;
  readonly #staticUse: SlidingWindow;
  #known: Known[] = [];
  #lastOkAt = Number.NEGATIVE_INFINITY;
  #settleUntil = Number.POSITIVE_INFINITY;
  #needsSeed = false;
  #pending: Pending | undefined;
  #nextRenewAt = Number.NEGATIVE_INFINITY;
  /** A new ledger spends nothing until Redis answers or `fallbackAfterMs` passes (a restarted sidecar must not spend a share the pool already used). */
  readonly #startedAt: number;

  constructor(limit: number, sidecars: number, timing: LeaseTiming, now: number) {
    this.#startedAt = now;
    this.limit = limit;
    this.sidecars = sidecars;
    this.timing = timing;
    this.#demandMs = timing.renewMs * 8;
    this.#demand = new SlidingWindow(this.#demandMs, 8);
    this.#staticUse = new SlidingWindow(timing.windowMs, 60);
  }

  get mode(): LimitMode {
    return this.#mode;
  }

  /** Units of valid leases, less what is owed. */
  held(now: number): number {
    let sum = -this.#debt;
    for (const b of this.#batches) if (b.validUntil > now) sum += b.units;
    return sum;
  }

  /** What the pool had been granted at the last reply and still counts. */
  known(now: number): number {
    let sum = 0;
    for (const k of this.#known) if (k.until > now) sum += k.units;
    return sum;
  }

  /**
   * The static share: `ceil(limit / sidecars)` when nothing the pool used is known to still
   * count, else `floor((limit - known) / sidecars)` (rounding down: the shares never add up past
   * the limit).
   */
  staticShare(now: number): number {
    const known = this.known(now);
    if (known <= 0) return Math.ceil(this.limit / this.sidecars);
    return Math.floor(Math.max(0, this.limit - known) / this.sidecars);
  }

  /** What a call of `amount` may spend right now. A call larger than the whole limit needs the whole limit. */
  hasRoom(now: number, amount: number): boolean {
    const need = Math.min(amount, this.limit);
    if (this.#mode === 'shared') return this.held(now) >= need;
    if (this.#lastOkAt === Number.NEGATIVE_INFINITY && now - this.#startedAt < this.timing.fallbackAfterMs)
      return false;
    return this.#staticUse.total(now) + need <= this.staticShare(now);
  }

  /** A call that found no room: it counts as demand (so the next lease covers the calls refused too), and the next renewal comes early. */
  noteUnmet(now: number, amount: number): void {
    this.#demand.add(now, amount);
    this.#unmet = Math.max(this.#unmet, Math.min(amount, this.limit));
    this.#nextRenewAt = Number.NEGATIVE_INFINITY;
  }

  /** A call started with `amount` (1 request, or its estimated tokens). */
  spend(now: number, amount: number): void {
    this.#demand.add(now, amount);
    if (amount > this.#largest) this.#largest = amount;
    this.#use(now, amount);
  }

  /** The backend reported usage different from the estimate: `delta` more (or fewer) units. */
  correct(now: number, delta: number): void {
    if (delta > 0) {
      this.#demand.add(now, delta);
      this.#use(now, delta);
      return;
    }
    if (delta === 0) return;
    if (this.#mode !== 'shared') {
      this.#staticUse.add(now, delta);
      this.#uncharged = Math.max(0, this.#uncharged + delta);
      return;
    }
    let back = -delta;
    const paid = Math.min(back, this.#debt);
    this.#debt -= paid;
    back -= paid;
    const newest = this.#batches.at(-1);
    if (back > 0 && newest !== undefined && newest.validUntil > now) newest.units += back;
  }

  #use(now: number, amount: number): void {
    if (this.#mode !== 'shared') {
      this.#staticUse.add(now, amount);
      this.#uncharged += amount;
      return;
    }
    let left = amount;
    for (const b of this.#batches) {
      if (left <= 0) break;
      if (b.validUntil <= now || b.units <= 0) continue;
      const take = Math.min(b.units, left);
      b.units -= take;
      left -= take;
    }
    this.#debt += left;
  }

  /** A renewal is due (none in flight). */
  renewDue(now: number): boolean {
    return this.#pending === undefined && now >= this.#nextRenewAt;
  }

  /** The next renewal; the caller sends it and reports back with onReply or onFailure. */
  renewRequest(now: number): RenewRequest {
    const refunds = this.#refunds;
    this.#refunds = [];
    this.#batches = this.#batches.filter((b) => {
      if (b.validUntil > now) return true;
      if (b.units >= 1) refunds.push(b.slice, Math.floor(b.units));
      return false;
    });
    const charge = Math.ceil(this.#uncharged + this.#debt);
    this.#uncharged = 0;
    this.#debt = 0;
    this.#pending = { charge };
    const demand = this.#demand.total(now);
    let want = 0;
    let minFree = 0;
    if (this.#mode === 'shared') {
      const target =
        Math.ceil((demand * (this.timing.leaseMs + this.timing.renewMs) * HEADROOM) / this.#demandMs) + this.#unmet;
      want = Math.max(0, target - Math.max(0, this.held(now)));
      if (want === 0 && this.held(now) <= 0) {
        // Idle: hold one typical call so the next one needs no round trip, while the pool has room.
        want = Math.min(this.#largest, Math.max(1, Math.floor(this.limit / (this.sidecars * 8))));
        minFree = Math.ceil(this.limit * FLOOR_FREE_FRACTION);
      }
    }
    this.#unmet = 0;
    this.#nextRenewAt = now + (demand > 0 ? this.timing.renewMs : this.timing.idleRenewMs);
    const seed = this.#needsSeed ? this.#known.flatMap((k) => [k.lastSlice, k.units]) : [];
    return { want: Math.min(want, this.limit), minFree, charge, refunds, seed };
  }

  /** Redis answered a renewal sent at `sentAt`. Returns the new mode when it changed. */
  onReply(sentAt: number, now: number, reply: RenewReply): LimitMode | undefined {
    this.#pending = undefined;
    // The first answer within the start-up grace: nothing was spent on a static share, by us or
    // (as far as we know) anyone, so leases start at once.
    const firstInGrace =
      this.#lastOkAt === Number.NEGATIVE_INFINITY && now - this.#startedAt < this.timing.fallbackAfterMs;
    this.#lastOkAt = now;
    const t = this.timing;
    // Redis's clock -> ours, erring late: the reply left Redis before `now`.
    const offset = now - reply.serverMs;
    const previous = this.#known;
    const known: Known[] = [];
    for (let i = 0; i + 1 < reply.hist.length; i += 2) {
      const lastSlice = reply.hist[i]!;
      known.push({ lastSlice, units: reply.hist[i + 1]!, until: (lastSlice + 1) * t.sliceMs + countedMs(t) + offset });
    }
    if (reply.grant > 0) {
      known.push({
        lastSlice: reply.slice,
        units: reply.grant,
        until: (reply.slice + 1) * t.sliceMs + countedMs(t) + offset,
      });
      this.#batches.push({ units: reply.grant, slice: reply.slice, validUntil: sentAt + t.leaseMs });
    }
    this.#needsSeed = reply.fresh && previous.some((k) => k.until > now);
    // Outside shared mode (and after a flush) a reply may know less than we did — Redis lost the
    // grants and nobody has seeded them back yet: what we knew keeps counting until it ages out.
    this.#known = this.#mode !== 'shared' || this.#needsSeed ? mergeKnown(previous, known, now) : known;
    if (this.#mode === 'shared') return undefined;
    if (this.#settleUntil === Number.POSITIVE_INFINITY) this.#settleUntil = firstInGrace ? now : now + t.settleMs;
    if (now < this.#settleUntil) {
      this.#nextRenewAt = Math.min(this.#nextRenewAt, this.#settleUntil);
      return undefined;
    }
    this.#mode = 'shared';
    this.#settleUntil = Number.POSITIVE_INFINITY;
    this.#nextRenewAt = Number.NEGATIVE_INFINITY;
    return 'shared';
  }

  /**
   * A renewal failed (error, timeout, refused auth). The mode stays: leases already held are
   * still valid (Redis counted them), and one slow answer on a busy node must not flip a sidecar
   * to its static share while the others draw from Redis; `tick` falls back once nothing has
   * succeeded for `fallbackAfterMs`.
   */
  onFailure(): void {
    const pending = this.#pending;
    this.#pending = undefined;
    if (pending !== undefined) {
      // A renewal that timed out may still run when Redis wakes up: its charge is sent again
      // (twice counted errs safe), its refunds are not (twice returned would not).
      if (this.#mode === 'shared') this.#debt += pending.charge;
      else this.#uncharged += pending.charge;
    }
    // Not settled: Redis failed again before the fleet's static spends were all charged.
    if (this.#mode === 'static') this.#settleUntil = Number.POSITIVE_INFINITY;
  }

  /** The periodic check: Redis silent for `fallbackAfterMs` (a hanging server) means static mode. */
  tick(now: number): LimitMode | undefined {
    if (this.#mode === 'shared' && now - this.#lastOkAt > this.timing.fallbackAfterMs) return this.#toStatic();
    return undefined;
  }

  #toStatic(): LimitMode | undefined {
    if (this.#mode === 'static') return undefined;
    this.#mode = 'static';
    // Leases are dropped, not spent: what they granted stays counted in `known`. What is owed
    // is charged when Redis returns.
    this.#uncharged += Math.max(0, this.#debt);
    this.#debt = 0;
    this.#batches = [];
    return 'static';
  }

  toJSON(now: number): { mode: LimitMode; held: number; static_share: number; pool_known: number } {
    return {
      mode: this.#mode,
      held: Math.max(0, Math.floor(this.held(now))),
      static_share: this.staticShare(now),
      pool_known: Math.round(this.known(now)),
    };
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
