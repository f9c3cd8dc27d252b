/**
 * A backend's pool-wide max_parallel_requests as this sidecar sees it: a concurrency lease, not
 * a rate. Pure, like rate-ledger.ts. Each sidecar holds some of the pool's slots in Redis under
 * its own id with an expiry (lease-script.ts SLOT_SCRIPT); a sidecar that dies stops renewing
 * and its slots return to the pool after `slotExpiryMs`. A renewal asks for the recent peak of
 * calls in flight plus one (so a growing sidecar can grow), never less than what is in flight.
 *
 * Static mode: `floor(limit / sidecars)` calls in flight (rounded down, like the rate fallback,
 * so the shares never add up past the limit: 4 sidecars and a limit of 10 hold at most 8, never
 * 12), but for `slotExpiryMs` after falling back no more than the sidecar held in Redis (the
 * others may still hold theirs).
 */
import type { LeaseTiming } from './lease-timing.ts';
import type { LimitMode } from './rate-ledger.ts';

export class SlotLedger {
  limit: number;
  sidecars: number;
  readonly timing: LeaseTiming;
  #mode: LimitMode = 'static';
  #slots = 0;
  #peak = 0;
  #unmet = false;
  #lastOkAt = Number.NEGATIVE_INFINITY;
  #staticSince = Number.NEGATIVE_INFINITY;
  #heldWhenStatic = 0;
  #pending = false;
  #nextRenewAt = Number.NEGATIVE_INFINITY;
  readonly #startedAt: number;

  constructor(limit: number, sidecars: number, timing: LeaseTiming, now: number) {
    this.limit = limit;
    this.sidecars = sidecars;
    this.timing = timing;
    this.#startedAt = now;
  }

  get mode(): LimitMode {
    return this.#mode;
  }

  get slots(): number {
    return this.#slots;
  }

  staticShare(now: number): number {
    const share = Math.floor(this.limit / this.sidecars);
    if (this.#lastOkAt === Number.NEGATIVE_INFINITY)
      return now - this.#startedAt < this.timing.fallbackAfterMs ? 0 : share;
    return now - this.#staticSince < this.timing.slotExpiryMs ? Math.min(share, this.#heldWhenStatic) : share;
  }

  hasRoom(now: number, inFlight: number): boolean {
    return inFlight < (this.#mode === 'shared' ? this.#slots : this.staticShare(now));
  }

  /** A call found every slot taken: ask for one more, soon. */
  noteUnmet(): void {
    this.#unmet = true;
    this.#nextRenewAt = Number.NEGATIVE_INFINITY;
  }

  /** Calls in flight right now (after a call started). */
  observe(inFlight: number): void {
    if (inFlight > this.#peak) this.#peak = inFlight;
  }

  renewDue(now: number): boolean {
    return !this.#pending && now >= this.#nextRenewAt;
  }

  renewRequest(now: number, inFlight: number): { want: number; inFlight: number } {
    this.#pending = true;
    const busy = this.#peak > 0 || inFlight > 0 || this.#unmet;
    const want = Math.min(this.limit, Math.max(this.#peak, inFlight) + 1 + (this.#unmet ? 1 : 0));
    this.#peak = inFlight;
    this.#unmet = false;
    // Idle: once a second keeps one slot (the expiry is 3 s) at a quarter of the busy rate.
    this.#nextRenewAt = now + (busy ? this.timing.renewMs : this.timing.idleRenewMs);
    return { want, inFlight };
  }

  onReply(now: number, slots: number): LimitMode | undefined {
    this.#pending = false;
    this.#lastOkAt = now;
    this.#slots = slots;
    if (this.#mode === 'shared') return undefined;
    this.#mode = 'shared';
    return 'shared';
  }

  /** The mode stays until `tick` sees no success for `fallbackAfterMs` (see RateLedger.onFailure). */
  onFailure(): void {
    this.#pending = false;
  }

  tick(now: number): LimitMode | undefined {
    if (this.#mode === 'shared' && now - this.#lastOkAt > this.timing.fallbackAfterMs) return this.#toStatic(now);
    return undefined;
  }

  #toStatic(now: number): LimitMode | undefined {
    if (this.#mode === 'static') return undefined;
    this.#mode = 'static';
    this.#staticSince = now;
    this.#heldWhenStatic = this.#slots;
    this.#slots = 0;
    return 'static';
  }

  toJSON(now: number): { mode: LimitMode; slots: number; static_share: number } {
    return { mode: this.#mode, slots: this.#slots, static_share: this.staticShare(now) };
  }
}
