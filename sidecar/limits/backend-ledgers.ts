/**
 * One backend's pool-wide limits in this sidecar: a ledger per configured limit (rpm, tpm,
 * max_parallel_requests). The Backend asks it for room and tells it what a call spent; all of it
 * is local arithmetic (the leases are renewed in the background by shared-limits.ts).
 */
import type { LeaseTiming } from './lease-timing.ts';
import { RateLedger, type LimitMode } from './rate-ledger.ts';
import { SlotLedger } from './slot-ledger.ts';

export interface PoolLimits {
  readonly rpm: number | undefined;
  readonly tpm: number | undefined;
  readonly maxParallelRequests: number | undefined;
}

export class BackendLedgers {
  rpm: RateLedger | undefined;
  tpm: RateLedger | undefined;
  par: SlotLedger | undefined;
  readonly timing: LeaseTiming;

  constructor(limits: PoolLimits, sidecars: number, timing: LeaseTiming, now: number) {
    this.timing = timing;
    this.update(limits, sidecars, now);
  }

  /** New limits or sidecar count: ledgers that stay keep their window and leases. */
  update(limits: PoolLimits, sidecars: number, now: number): void {
    this.rpm = rate(this.rpm, limits.rpm, sidecars, this.timing, now);
    this.tpm = rate(this.tpm, limits.tpm, sidecars, this.timing, now);
    const par = limits.maxParallelRequests;
    if (par === undefined) this.par = undefined;
    else if (this.par === undefined) this.par = new SlotLedger(par, sidecars, this.timing, now);
    else {
      this.par.limit = par;
      this.par.sidecars = sidecars;
    }
  }

  get empty(): boolean {
    return this.rpm === undefined && this.tpm === undefined && this.par === undefined;
  }

  hasRoom(now: number, cost: number, inFlight: number): boolean {
    if (this.par !== undefined && !this.par.hasRoom(now, inFlight)) return false;
    if (this.rpm !== undefined && !this.rpm.hasRoom(now, 1)) return false;
    return this.tpm === undefined || this.tpm.hasRoom(now, cost);
  }

  /** A call of `cost` tokens started; `inFlight` counts it. */
  spend(now: number, cost: number, inFlight: number): void {
    this.rpm?.spend(now, 1);
    this.tpm?.spend(now, cost);
    this.par?.observe(inFlight);
  }

  /** The backend reported `delta` tokens more (or fewer) than estimated. */
  correct(now: number, delta: number): void {
    this.tpm?.correct(now, delta);
  }

  /** A call found no room here: the next renewals ask for it, early. */
  noteUnmet(now: number, cost: number, inFlight: number): void {
    if (this.rpm !== undefined && !this.rpm.hasRoom(now, 1)) this.rpm.noteUnmet(now, 1);
    if (this.tpm !== undefined && !this.tpm.hasRoom(now, cost)) this.tpm.noteUnmet(now, cost);
    if (this.par !== undefined && !this.par.hasRoom(now, inFlight)) this.par.noteUnmet();
  }

  /** static when any limit is on its static share. */
  get mode(): LimitMode {
    const modes = [this.rpm?.mode, this.tpm?.mode, this.par?.mode];
    return modes.includes('static') ? 'static' : 'shared';
  }

  toJSON(now: number): Record<string, unknown> {
    return {
      mode: this.mode,
      ...(this.rpm === undefined ? {} : { rpm: this.rpm.toJSON(now) }),
      ...(this.tpm === undefined ? {} : { tpm: this.tpm.toJSON(now) }),
      ...(this.par === undefined ? {} : { max_parallel_requests: this.par.toJSON(now) }),
    };
  }
}

function rate(
  ledger: RateLedger | undefined,
  limit: number | undefined,
  sidecars: number,
  timing: LeaseTiming,
  now: number,
): RateLedger | undefined {
  if (limit === undefined) return undefined;
  if (ledger === undefined) return new RateLedger(limit, sidecars, timing, now);
  ledger.limit = limit;
  ledger.sidecars = sidecars;
  return ledger;
}
