/**
 * One pool-wide rate limit (a backend's rpm or tpm) as this sidecar sees it: the leases of budget
 * it holds, what it owes or returns, and the static share it falls back to. Pure: time comes in as
 * arguments, Redis is someone else's job (redis-link.ts sends `renewRequest`, feeds `onReply` or
 * `onFailure`). Calls spend local units only: no Redis round trip per call.
 *
 * Shared mode. Redis keeps the pool's grants per slice of time (lease-script.ts). A renewal asks
 * for what the sidecar's recent demand needs for the next lease; the script grants at most what
 * the window has left. A lease's units may be spent from the renewal's reply until `leaseMs` after
 * it was sent, and the script counts a grant for `windowMs + leaseMs` (+ the dispatch margin), so
 * any spend lies within the window its grant was counted in: the backend sees at most `limit` in
 * any window. Units a lease did not use go back at the next renewal; tpm corrections (the
 * backend's reported usage) are owed as debt and charged at the next renewal.
 *
 * Static mode (Redis unreachable, slow, refusing auth; or never reached yet). Each sidecar may
 * spend `floor((limit - known - promised) / sidecars)` within a window (counted for the window
 * plus the dispatch margin), where `known` is what the pool had been granted at its last reply and
 * still counts and `promised` what the others may have been granted since (Redis's promise,
 * pool-knowledge.ts); nothing while it is blind. Once all that has aged out: floor(limit /
 * sidecars), rounded down so the shares never add up past the limit.
 *
 * Back from static. The first reply starts `settleMs` of settling: the sidecar charges what it
 * spent meanwhile, and spends only leases that Redis granted (counted, so the others see them) and
 * that fit in its static share (so the sidecars not back yet are not overrun). Then every sidecar
 * has charged its static spends, and leases are drawn as usual.
 */
import { SlidingWindow } from '../balancer/sliding-window.ts';
import { type LeaseTiming, STATIC_BUCKETS, staticWindowMs } from './lease-timing.ts';
import { PoolKnowledge } from './pool-knowledge.ts';

export type LimitMode = 'shared' | 'static';

export interface RenewRequest {
  readonly want: number;
  /** What the recent demand needs: granted while the window has room (want beyond it only while `minFree` stays free). */
  readonly need: number;
  /** Grant what `want` asks beyond `need` only while this much of the window stays free (a burst lease, an idle floor). */
  readonly minFree: number;
  /** Units spent beyond leases (tpm corrections, static-mode use): counted now, unconditionally. */
  readonly charge: number;
  /** Flat [slice, units, ...]: unused units of expired leases. */
  readonly refunds: readonly number[];
  /** Flat [slice, units, ...]: after Redis lost the pool's grants, what this sidecar knew of them. */
  readonly seed: readonly number[];
  /** The least Redis promises (lease-script.ts): twice what the limit allows over an idle renewal period. */
  readonly promiseFloor: number;
  /** The share of what the window has left that Redis promises: none while settling. */
  readonly promiseShare: number;
}

export interface RenewReply {
  readonly grant: number;
  /** The slice the grant was counted in. */
  readonly slice: number;
  /** Redis's clock (ms) when it granted. */
  readonly serverMs: number;
  /** The slice the key was created in: a new one means Redis lost the pool's grants (restarted, flushed) or they all aged out. */
  readonly born: number;
  /** The others' grants after this reply stay within this until this sidecar renews (or the promise lapses). */
  readonly promise: number;
  /** Flat [lastSlice, units, ...]: the pool's counted grants, grouped; each counts until its last slice ends + window + lease. */
  readonly hist: readonly number[];
}

interface Batch {
  units: number;
  readonly slice: number;
  /** Local monotonic ms: spendable before this. */
  readonly validUntil: number;
}

/** An idle sidecar keeps a floor lease only while the pool has this share of its window free. */
const FLOOR_FREE_FRACTION = 0.1;
/** A lease covers the recent demand times this. */
const HEADROOM = 1.25;
/**
 * While the pool has used less than half its window, a lease covers a burst too: this share of
 * the sidecar's even share of the limit (limit / sidecars / BURST_DIVISOR), so traffic that
 * starts far below the limit is not refused while leases grow with demand.
 */
const BURST_DIVISOR = 8;
const BURST_FREE_FRACTION = 0.5;

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
  /** What this sidecar spent on its static share (settling leases too). */
  readonly #staticUse: SlidingWindow;
  readonly #pool: PoolKnowledge;
  #lastOkAt = Number.NEGATIVE_INFINITY;
  /** Finite while settling: Redis answers again, leases are drawn within the static share until then. */
  #settleUntil = Number.POSITIVE_INFINITY;
  /** What to seed back with the next renewal (Redis lost the pool's grants). */
  #seed: number[] = [];
  /** The seed of the renewal in flight: sent again if it fails. */
  #seedSent: number[] = [];
  /** The `born` of the last reply. */
  #born: number | undefined;
  #pendingCharge: number | undefined;
  #nextRenewAt = Number.NEGATIVE_INFINITY;
  /** When the last renewal was sent: a call after an idle renewal brings the next one to the busy schedule. */
  #renewedAt = Number.NEGATIVE_INFINITY;
  /** A new ledger spends nothing until Redis answers or `fallbackAfterMs` passes (a restarted sidecar must not spend a share the pool already used). */
  readonly #startedAt: number;

  constructor(limit: number, sidecars: number, timing: LeaseTiming, now: number) {
    this.#startedAt = now;
    this.limit = limit;
    this.sidecars = sidecars;
    this.timing = timing;
    this.#demandMs = timing.renewMs * 8;
    this.#demand = new SlidingWindow(this.#demandMs, 8);
    this.#staticUse = new SlidingWindow(staticWindowMs(timing), STATIC_BUCKETS);
    this.#pool = new PoolKnowledge(timing);
  }

  get mode(): LimitMode {
    return this.#mode;
  }

  /** A burst lease: what a sidecar holds beyond its demand while the pool is far from the limit. */
  get #burst(): number {
    return Math.ceil(this.limit / (this.sidecars * BURST_DIVISOR));
  }

  /**
   * The least Redis promises (lease-script.ts): twice what the limit allows over an idle renewal
   * period. A settling sidecar is promised only this, and until it renews the others are granted
   * no more than it: so while settling it covers the others' burst leases too, two renewals each.
   * Smaller, a burst was refused whole while any sidecar settled (a start, a rollout, a Redis
   * blip), and an idle sidecar whose lease ran out meanwhile refused the first calls of its next
   * traffic. The larger promise only lowers this sidecar's own static share while it settles.
   */
  #promiseFloor(): number {
    const floor = Math.ceil((2 * this.limit * this.timing.idleRenewMs) / this.timing.windowMs);
    return this.#settling ? Math.max(floor, 2 * (this.sidecars - 1) * this.#burst) : floor;
  }

  /** What a burst lease must leave free of the window. */
  get #burstFree(): number {
    return Math.ceil(this.limit * BURST_FREE_FRACTION);
  }

  get #settling(): boolean {
    return this.#mode === 'static' && this.#settleUntil !== Number.POSITIVE_INFINITY;
  }

  /** Units of valid leases, less what is owed. */
  held(now: number): number {
    return this.#held(now, Number.POSITIVE_INFINITY);
  }

  /** held(now), summed only until it reaches `enough` (hasRoom on every pick: the first lease usually covers the call). */
  #held(now: number, enough: number): number {
    let sum = -this.#debt;
    for (const b of this.#batches) {
      if (sum >= enough) break;
      if (b.validUntil > now) sum += b.units;
    }
    return sum;
  }

  /** What the pool had been granted at the last reply and still counts. */
  known(now: number): number {
    return this.#pool.known(now);
  }

  /**
   * The static share: `floor((limit - known - promised) / sidecars)` (rounding down: the shares
   * never add up past the limit), nothing while blind (pool-knowledge.ts).
   */
  staticShare(now: number): number {
    if (this.#pool.blind(now)) return 0;
    const owed = this.#pool.known(now) + this.#pool.promised(now);
    return Math.floor(Math.max(0, this.limit - owed) / this.sidecars);
  }

  /** What a call of `amount` may spend right now. A call larger than the whole limit needs the whole limit. */
  hasRoom(now: number, amount: number): boolean {
    const need = Math.min(amount, this.limit);
    if (this.#mode === 'shared') return this.#held(now, need) >= need;
    if (this.#lastOkAt === Number.NEGATIVE_INFINITY && now - this.#startedAt < this.timing.fallbackAfterMs)
      return false;
    if (this.#settling && this.#held(now, need) < need) return false;
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
    // An idle sidecar's next renewal is 750 ms after its last, 250 ms before that lease ends: the
    // first call brings it to the busy schedule, so a renewal made late by a starved node's timers
    // still comes before the lease runs out, and the lease grows with the new demand at once.
    const busyAt = this.#renewedAt + this.timing.renewMs;
    if (busyAt < this.#nextRenewAt) this.#nextRenewAt = busyAt;
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
    // The static share is not lowered: the credit would count for longer than the call it refers to.
    if (this.#mode === 'static' && !this.#settling) {
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
    if (this.#mode === 'static') {
      this.#staticUse.add(now, amount);
      if (!this.#settling) {
        this.#uncharged += amount;
        return;
      }
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
    return this.#pendingCharge === undefined && now >= this.#nextRenewAt;
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
    this.#pendingCharge = charge;
    const demand = this.#demand.total(now);
    const period = demand > 0 ? this.timing.renewMs : this.timing.idleRenewMs;
    let want = 0;
    let need = 0;
    let minFree = 0;
    if (this.#mode === 'shared' || this.#settling) {
      const target =
        Math.ceil((demand * (this.timing.leaseMs + this.timing.renewMs) * HEADROOM) / this.#demandMs) + this.#unmet;
      const held = Math.max(0, this.held(now));
      want = Math.max(0, target - held);
      need = want;
      const burst = this.#burst;
      // What is still valid at the renewal after next: a floor or burst lease that would expire
      // before then is replaced now, so a renewal that comes late (a busy node's timers) or
      // answers late leaves no gap without one.
      const heldNext = Math.max(0, this.held(now + 2 * period));
      const far = this.#pool.known(now) + burst <= this.limit * BURST_FREE_FRACTION;
      if (this.#settling) {
        // Only what the static share has room for: the sidecars not back yet count on it. Far
        // from the limit a burst lease too, so the switch to shared finds one in hand.
        const room = Math.max(0, this.staticShare(now) - this.#staticUse.total(now) - held);
        need = Math.min(want, room);
        want = Math.min(Math.max(want, far ? burst - heldNext : 0), room);
        if (want > need) minFree = this.#burstFree;
      } else if (heldNext < burst && far) {
        // Far from the limit (as of the last reply; Redis checks again with minFree): a burst
        // lease, so a sidecar going from idle to busy is not refused while its leases catch up.
        want = Math.max(want, burst - heldNext);
        minFree = this.#burstFree;
      } else if (want === 0 && heldNext <= 0) {
        // Idle: hold one typical call so the next one needs no round trip, while the pool has room.
        want = Math.min(this.#largest, Math.max(1, Math.floor(this.limit / (this.sidecars * 8))));
        minFree = Math.ceil(this.limit * FLOOR_FREE_FRACTION);
      }
    } else if (this.#lastOkAt === Number.NEGATIVE_INFINITY) {
      // The very first renewal: a burst lease already (Redis grants it only while half the window
      // is free), so the first calls after start find one.
      want = this.#burst;
      minFree = this.#burstFree;
    }
    this.#unmet = 0;
    this.#renewedAt = now;
    this.#nextRenewAt = now + period;
    const seed = this.#seed;
    this.#seed = [];
    this.#seedSent = seed;
    return {
      want: Math.min(want, this.limit),
      need: Math.min(need, this.limit),
      minFree,
      charge,
      refunds,
      seed,
      promiseFloor: this.#promiseFloor(),
      promiseShare: this.#settling ? 0 : 0.5,
    };
  }

  /** Redis answered a renewal sent at `sentAt`. Returns the new mode when it changed. */
  onReply(sentAt: number, now: number, reply: RenewReply): LimitMode | undefined {
    this.#pendingCharge = undefined;
    this.#seedSent = [];
    // The first answer within the start-up grace: nothing was spent on a static share, by us or
    // (as far as we know) anyone, so leases start at once.
    const firstInGrace =
      this.#lastOkAt === Number.NEGATIVE_INFINITY && now - this.#startedAt < this.timing.fallbackAfterMs;
    this.#lastOkAt = now;
    const t = this.timing;
    // Redis lost the pool's grants (restarted, flushed) while some still count: its budget does
    // not know them. Seed back what we knew (with the next renewal), and settle as after a
    // failure until every sidecar has; this reply's grant stays unspent (Redis counts it).
    const lost = this.#born !== undefined && reply.born > this.#born && this.#pool.anyLive(now);
    this.#born = reply.born;
    let changed: LimitMode | undefined;
    if (lost) {
      this.#seed = this.#pool.seed(reply.born, now);
      if (this.#mode === 'shared') changed = this.#toStatic(now);
      this.#settleUntil = now + t.settleMs;
      this.#nextRenewAt = Number.NEGATIVE_INFINITY;
    } else if (reply.grant > 0)
      this.#batches.push({ units: reply.grant, slice: reply.slice, validUntil: sentAt + t.leaseMs });
    if (this.#mode === 'static' && this.#settleUntil === Number.POSITIVE_INFINITY)
      this.#settleUntil = firstInGrace ? now : now + t.settleMs;
    const shared = this.#mode === 'shared' || now >= this.#settleUntil;
    // Outside shared mode a reply may know less than we did (Redis lost the grants and not
    // everyone has seeded them back yet): what we knew keeps counting until it ages out.
    this.#pool.onReply(sentAt, now, reply, this.#mode !== 'shared', shared);
    if (this.#mode === 'shared') return undefined;
    if (!shared) {
      this.#nextRenewAt = Math.min(this.#nextRenewAt, this.#settleUntil);
      return changed;
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
  onFailure(now: number): void {
    const charge = this.#pendingCharge;
    this.#pendingCharge = undefined;
    this.#pool.onFailure(now);
    if (this.#seed.length === 0) this.#seed = this.#seedSent;
    this.#seedSent = [];
    if (charge !== undefined) {
      // A renewal that timed out may still run when Redis wakes up: its charge is sent again
      // (twice counted errs safe), its refunds are not (twice returned would not).
      if (this.#mode === 'shared') this.#debt += charge;
      else this.#uncharged += charge;
    }
    if (this.#settling) {
      // Redis failed again before the fleet's static spends were all charged. What the settling
      // leases granted is already in the static share's count.
      this.#settleUntil = Number.POSITIVE_INFINITY;
      this.#uncharged += Math.max(0, this.#debt);
      this.#debt = 0;
      this.#batches = [];
    }
  }

  /** The periodic check: Redis silent for `fallbackAfterMs` (a hanging server) means static mode. */
  tick(now: number): LimitMode | undefined {
    if (this.#mode === 'shared' && now - this.#lastOkAt > this.timing.fallbackAfterMs) return this.#toStatic(now);
    if (this.#mode === 'static') this.#pool.noteStatic(now);
    return undefined;
  }

  #toStatic(now: number): LimitMode {
    this.#mode = 'static';
    // Leases are dropped, not spent: what they granted stays counted in `known`. What is owed
    // (spent beyond the leases: tpm corrections) was spent in this window: it counts against the
    // static share, and is charged when Redis returns.
    if (this.#debt > 0) {
      this.#staticUse.add(now, this.#debt);
      this.#uncharged += this.#debt;
    }
    this.#debt = 0;
    this.#batches = [];
    this.#pool.noteStatic(now);
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
