/**
 * Flow control: what a call does when no backend can take it now. The decisions (order, bounds,
 * who is displaced) are FlowQueue's; this is the thin async wiring around it: one promise and one
 * timer per waiting call, woken when an attempt ends (Backend's `released` hook: no polling) or
 * when a rate limit or a parked backend will have room again.
 *
 * Admission is one call at a time: the admitted call takes its slot (its first attempt starts
 * synchronously) and then calls `afterAdmitted()`, which admits the next if there is room still.
 * So a freed slot never wakes a herd, and a call arriving while others wait goes behind them
 * unless its priority is higher than every waiter's.
 *
 * Priorities: higher first, 0 by default; a negative priority is sheddable: never queued, so it is
 * refused first when the backends are saturated. Tenants: round-robin within a priority, at most
 * `max_tenants` tracked (the rest share one overflow tenant), optionally `tenant_max_in_flight`.
 */
import type { Clock, Timers } from '../../common/clock.ts';
import type { FlowSettings } from '../config/model.ts';
import { LbError } from '../errors.ts';
import { FlowQueue, type Waiting } from './flow-queue.ts';
import { RETRY_SOON_SECONDS, retryAfterSeconds as wholeSeconds } from '../retry-after.ts';

export const DEFAULT_TENANT = 'default';
/** Where calls of tenants past `max_tenants` are counted. */
export const OVERFLOW_TENANT = '(other)';

/** Why a wait ended. */
export type WaitOutcome = 'admitted' | 'timeout' | 'displaced' | 'full' | 'shed' | 'cancelled';

/** Metric labels stay bounded: priorities fall in three buckets. */
export type PriorityBucket = 'high' | 'default' | 'sheddable';

export function bucketOf(priority: number): PriorityBucket {
  return priority > 0 ? 'high' : priority < 0 ? 'sheddable' : 'default';
}

export interface FlowObserver {
  /** A call stopped waiting (admitted or refused) after `seconds` in the queue. */
  waited(bucket: PriorityBucket, outcome: WaitOutcome, seconds: number): void;
}

const NO_FLOW_OBSERVER: FlowObserver = { waited() {} };

/** What flow control asks of the backends. */
export interface CapacityProbe {
  /** Some backend can take a call of `cost` tokens and `priority` now. */
  canAdmit(cost: number, priority: number): boolean;
  /** Ms until a rate limit or a parked backend leaves room for `cost` (Infinity: only a finished call frees room). */
  msUntilRoom(cost: number): number;
}

interface Waiter extends Waiting {
  readonly cost: number;
  readonly since: number;
  readonly resolve: (outcome: WaitOutcome) => void;
  readonly signal: AbortSignal | undefined;
  timer: unknown;
  onAbort: (() => void) | undefined;
}

export interface FlowDeps {
  readonly clock: Clock;
  readonly timers: Timers;
  readonly probe: CapacityProbe;
  readonly observer?: FlowObserver | undefined;
}

export class FlowControl {
  readonly #queue: FlowQueue<Waiter>;
  readonly #deps: FlowDeps;
  readonly #observer: FlowObserver;
  #settings: FlowSettings;
  #order = 0;
  /** A call was admitted and has not yet taken its slot: admit no other until it has. */
  #admitting = false;
  #roomTimer: unknown;
  #roomAt = Number.POSITIVE_INFINITY;
  /** Calls in flight per tenant (only tenants with calls in flight; at most max_tenants + 1 keys). */
  readonly #tenants = new Map<string, number>();
  readonly counts: Record<WaitOutcome | 'tenant_limited', number> = {
    admitted: 0,
    timeout: 0,
    displaced: 0,
    full: 0,
    shed: 0,
    cancelled: 0,
    tenant_limited: 0,
  };

  constructor(settings: FlowSettings, deps: FlowDeps) {
    this.#settings = settings;
    this.#deps = deps;
    this.#observer = deps.observer ?? NO_FLOW_OBSERVER;
    this.#queue = new FlowQueue(settings.queueMaxLength);
  }

  apply(settings: FlowSettings): void {
    this.#settings = settings;
    this.#queue.maxLength = settings.queueMaxLength;
  }

  get enabled(): boolean {
    return this.#settings.queueTimeoutMs > 0;
  }

  get waiting(): number {
    return this.#queue.length;
  }

  /** A call of `priority` must go behind waiters (one of them has the same or a higher priority). */
  mustWait(priority: number): boolean {
    return this.#queue.length > 0 && this.#queue.topPriority >= priority;
  }

  /** When a call that starts waiting now must stop: queue_timeout from now, never past its deadline. */
  waitUntil(deadline: number): number {
    return Math.min(this.#deps.clock.now() + this.#settings.queueTimeoutMs, deadline);
  }

  /**
   * Waits for room until `until` (see waitUntil: a call that waits again after losing its slot
   * keeps its first limit). Sheddable calls and calls finding the queue full (and no lower
   * priority to displace) are refused at once.
   */
  wait(
    priority: number,
    tenant: string,
    cost: number,
    until: number,
    signal: AbortSignal | undefined,
  ): Promise<WaitOutcome> {
    const bucket = bucketOf(priority);
    if (priority < 0) return this.#refuse(bucket, 'shed');
    const now = this.#deps.clock.now();
    if (until <= now) return this.#refuse(bucket, 'timeout');
    return new Promise((resolve) => {
      const w: Waiter = {
        priority,
        tenant,
        order: ++this.#order,
        cost,
        since: now,
        resolve,
        signal,
        timer: undefined,
        onAbort: undefined,
      };
      const offer = this.#queue.offer(w);
      if (!offer.queued) {
        this.#finish(w, 'full');
        return;
      }
      if (offer.displaced !== undefined) this.#finish(offer.displaced, 'displaced');
      w.timer = this.#deps.timers.setTimeout(() => {
        if (this.#queue.remove(w)) this.#finish(w, 'timeout');
      }, until - now);
      if (signal !== undefined) {
        w.onAbort = () => {
          if (this.#queue.remove(w)) this.#finish(w, 'cancelled');
        };
        signal.addEventListener('abort', w.onAbort, { once: true });
      }
      this.pump();
    });
  }

  /** An admitted call has taken its slot (or given up): admit the next if there is room. */
  afterAdmitted(): void {
    this.#admitting = false;
    this.pump();
  }

  /** A slot was freed (an attempt ended). Cheap when nothing waits. */
  released(): void {
    if (this.#queue.length > 0) this.pump();
  }

  /** Admits the waiter whose turn it is, when a backend can take it now. */
  pump(): void {
    if (this.#admitting) return;
    const head = this.#queue.peek();
    if (head === undefined) return;
    const probe = this.#deps.probe;
    if (probe.canAdmit(head.cost, head.priority)) {
      this.#queue.take();
      this.#admitting = true;
      this.#finish(head, 'admitted');
      return;
    }
    this.#wakeWhenRoom(probe.msUntilRoom(head.cost));
  }

  /** Seconds a refused call should wait: until a rate limit frees room, else 1. */
  retryAfterSeconds(cost: number): number {
    return wholeSeconds(this.#deps.probe.msUntilRoom(cost));
  }

  /** Counts a call of `tenant` in flight; throws 429 when the tenant is at tenant_max_in_flight. Returns the key to leave with. */
  enterTenant(tenant: string): string {
    let key = tenant;
    let count = this.#tenants.get(key);
    const tracked = this.#tenants.size - (this.#tenants.has(OVERFLOW_TENANT) ? 1 : 0);
    if (count === undefined && tracked >= this.#settings.maxTenants) {
      key = OVERFLOW_TENANT;
      count = this.#tenants.get(key);
    }
    const limit = this.#settings.tenantMaxInFlight;
    if (limit !== undefined && (count ?? 0) >= limit) {
      this.counts.tenant_limited++;
      throw new LbError(
        'rate_limited',
        429,
        `x-reranker-tenant: tenant has ${limit} calls in flight, its tenant_max_in_flight`,
        { field: 'x-reranker-tenant', retryAfterSeconds: RETRY_SOON_SECONDS },
      );
    }
    this.#tenants.set(key, (count ?? 0) + 1);
    return key;
  }

  leaveTenant(key: string): void {
    const count = this.#tenants.get(key);
    if (count === undefined) return;
    if (count <= 1) this.#tenants.delete(key);
    else this.#tenants.set(key, count - 1);
  }

  toJSON(): Record<string, unknown> {
    return {
      queue_timeout_ms: this.#settings.queueTimeoutMs,
      queue_max_length: this.#settings.queueMaxLength,
      waiting: this.#queue.length,
      waiting_by_priority: this.#queue.sizes(),
      tenants_in_flight: this.#tenants.size,
      max_tenants: this.#settings.maxTenants,
      tenant_max_in_flight: this.#settings.tenantMaxInFlight ?? null,
      outcomes: { ...this.counts },
    };
  }

  /** Refuses all waiters (shutdown): a 429 with Retry-After, so callers try again elsewhere. */
  close(): void {
    for (let w = this.#queue.take(); w !== undefined; w = this.#queue.take()) this.#finish(w, 'timeout');
    this.#deps.timers.clearTimeout(this.#roomTimer);
  }

  #refuse(bucket: PriorityBucket, outcome: WaitOutcome): Promise<WaitOutcome> {
    this.counts[outcome]++;
    this.#observer.waited(bucket, outcome, 0);
    return Promise.resolve(outcome);
  }

  #finish(w: Waiter, outcome: WaitOutcome): void {
    if (w.timer !== undefined) this.#deps.timers.clearTimeout(w.timer);
    if (w.onAbort !== undefined) w.signal!.removeEventListener('abort', w.onAbort);
    this.counts[outcome]++;
    this.#observer.waited(bucketOf(w.priority), outcome, (this.#deps.clock.now() - w.since) / 1000);
    w.resolve(outcome);
  }

  /** A rate limit or a parked backend frees room at a known time: wake then (one timer). */
  #wakeWhenRoom(ms: number): void {
    if (!Number.isFinite(ms)) return;
    const at = this.#deps.clock.now() + Math.max(1, ms);
    if (at >= this.#roomAt) return;
    this.#deps.timers.clearTimeout(this.#roomTimer);
    this.#roomAt = at;
    this.#roomTimer = this.#deps.timers.setTimeout(() => {
      this.#roomAt = Number.POSITIVE_INFINITY;
      this.pump();
    }, at - this.#deps.clock.now());
  }
}
