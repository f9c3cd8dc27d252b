/**
 * Pool-wide limits through Redis: keeps one BackendLedgers per limited backend (by identity, so a
 * reload or a new sidecar_count keeps the window and the leases), renews their leases in the
 * background from one timer, and reports each backend's mode: a WARN log line per transition, a
 * metric, and /lb/stats. Without a Redis in the config it does nothing and loads nothing.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Backend } from '../balancer/backend.ts';
import type { LbConfig } from '../config/model.ts';
import type { RedisTarget } from '../config/redis-settings.ts';
import type { Clock, Timers } from '../../common/clock.ts';
import type { Logger } from '../../common/logger.ts';
import { BackendLedgers } from './backend-ledgers.ts';
import { limitKey } from './lease-script.ts';
import { leaseTiming, type LeaseTiming } from './lease-timing.ts';
import { failureKind, RedisLink } from './redis-link.ts';
import type { LimitMode, RateLedger, RenewReply, RenewRequest } from './rate-ledger.ts';
import type { SlotLedger } from './slot-ledger.ts';

export interface SharedLimitsDeps {
  readonly clock: Clock;
  readonly timers: Timers;
  readonly logger: Logger;
  /** This sidecar's name in the concurrency hash (pod name + a per-process suffix). */
  readonly sidecarId: string;
  readonly registry: Registry;
  readonly timing?: LeaseTiming;
  /** A lease was granted or a mode changed: calls waiting in the flow-control queue may fit now. */
  readonly roomChanged?: () => void;
}

interface Entry {
  readonly ledgers: BackendLedgers;
  name: string;
  keys: { rpm: RateKeys; tpm: RateKeys; par: string; parExpiry: string };
  /** The mode last reported (log line, metric); 'shared' at first, so a Redis that fails from the start is reported too. */
  reported: LimitMode;
  /** Why the last renewal failed ('' after a success): named in the fallback's log line. */
  reason: string;
}

/** What /lb/stats and the metric say of a backend's limits. */
export type LimitsMode = 'none' | 'split' | 'shared' | 'fallback';

export function limitsModeOf(b: Backend): LimitsMode {
  const p = b.spec.poolLimits;
  if (p.rpm === undefined && p.tpm === undefined && p.maxParallelRequests === undefined) return 'none';
  if (b.shared === undefined) return 'split';
  return b.shared.mode === 'shared' ? 'shared' : 'fallback';
}

const MODE_VALUE: Readonly<Record<LimitsMode, number>> = { none: 0, split: 1, shared: 2, fallback: 3 };

type RateKeys = readonly [string, string, string];

/** RATE_SCRIPT's ARGV for one renewal (lease-script.ts). */
export function rateArgs(ledger: RateLedger, r: RenewRequest, sidecarId: string): (number | string)[] {
  const t = ledger.timing;
  return [
    ledger.limit,
    t.windowMs,
    t.leaseMs + t.dispatchMarginMs,
    t.sliceMs,
    r.want,
    r.minFree,
    r.charge,
    sidecarId,
    r.promiseFloor,
    t.horizonMs,
    r.promiseShare,
    r.need,
    r.refunds.length / 2,
    ...r.refunds,
    r.seed.length / 2,
    ...r.seed,
  ];
}

export function parseRate(reply: readonly (number | string)[]): RenewReply {
  const n = reply.map(Number);
  return { grant: n[0]!, slice: n[1]!, serverMs: n[2]!, born: n[3]!, promise: n[4]!, hist: n.slice(5) };
}

function sameTarget(a: RedisTarget, b: RedisTarget): boolean {
  return a.display === b.display && a.password === b.password && a.username === b.username;
}

export class SharedLimits {
  readonly #deps: SharedLimitsDeps;
  readonly timing: LeaseTiming;
  readonly #entries = new Map<string, Entry>();
  #link: RedisLink | undefined;
  /** When the current link was opened (monotonic ms). */
  #linkSince = 0;
  #timer: unknown;
  #backends: readonly Backend[] = [];
  readonly #changes: Counter<'mode'>;

  constructor(deps: SharedLimitsDeps) {
    this.#deps = deps;
    this.timing = deps.timing ?? leaseTiming();
    const backends = () => this.#backends;
    this.#changes = new Counter({
      name: 'reranker_lb_limits_mode_changes_total',
      help: "Backends' pool-wide limits changing mode (shared: drawn from Redis; fallback: the static share).",
      labelNames: ['mode'] as const,
      registers: [deps.registry],
    });
    new Gauge({
      name: 'reranker_lb_backend_limits_mode',
      help: 'How rpm/tpm/max_parallel_requests are enforced: 0 no limits, 1 split (ceil(limit / sidecar_count), no Redis), 2 shared through Redis, 3 fallback to the static share (Redis failing).',
      labelNames: ['backend'] as const,
      registers: [deps.registry],
      collect() {
        this.reset();
        for (const b of backends()) this.set({ backend: b.spec.name }, MODE_VALUE[limitsModeOf(b)]);
      },
    });
  }

  /** Follows a config: attaches ledgers to the limited backends (or detaches them all without Redis). */
  sync(backends: readonly Backend[], config: LbConfig): void {
    this.#backends = backends;
    const redis = config.redis;
    if (redis === undefined) {
      for (const b of backends) b.shared = undefined;
      this.#entries.clear();
      this.#stop();
      return;
    }
    if (
      this.#link === undefined ||
      !sameTarget(this.#link.target, redis) ||
      this.#link.target.keyPrefix !== redis.keyPrefix
    ) {
      this.#link?.close();
      this.#linkSince = this.#deps.clock.now();
      this.#link = new RedisLink(redis, this.timing, (kind) =>
        this.#deps.logger.debug({ redis: redis.display, problem: kind }, 'redis connection problem'),
      );
      this.#deps.logger.info(
        { redis: redis.display, key_prefix: redis.keyPrefix },
        'pool-wide limits: drawing leases from Redis',
      );
    }
    const now = this.#deps.clock.now();
    const seen = new Set<string>();
    for (const b of backends) {
      const p = b.spec.poolLimits;
      if (p.rpm === undefined && p.tpm === undefined && p.maxParallelRequests === undefined) {
        b.shared = undefined;
        continue;
      }
      seen.add(b.id);
      let entry = this.#entries.get(b.id);
      if (entry === undefined) {
        entry = {
          ledgers: new BackendLedgers(p, config.sidecarCount, this.timing, now),
          name: b.spec.name,
          keys: keysOf(redis.keyPrefix, b.id),
          reported: 'shared',
          reason: '',
        };
        this.#entries.set(b.id, entry);
      } else {
        entry.ledgers.update(p, config.sidecarCount, now);
        entry.name = b.spec.name;
        entry.keys = keysOf(redis.keyPrefix, b.id);
      }
      b.shared = entry.ledgers;
    }
    for (const [id, entry] of this.#entries) {
      if (seen.has(id)) continue;
      if (entry.ledgers.par !== undefined)
        void this.#link.release(entry.keys.par, entry.keys.parExpiry, this.#deps.sidecarId, entry.ledgers.par.limit);
      this.#entries.delete(id);
    }
    if (this.#timer === undefined) this.#schedule(0);
  }

  #schedule(ms: number): void {
    this.#timer = this.#deps.timers.setTimeout(() => this.#tick(), ms);
  }

  #tick(): void {
    const link = this.#link;
    if (link === undefined) return;
    const now = this.#deps.clock.now();
    for (const entry of this.#entries.values()) {
      const l = entry.ledgers;
      const changed = [l.rpm?.tick(now), l.tpm?.tick(now), l.par?.tick(now)];
      // A Redis failing from the start is reported once the start-up grace is over (by then the
      // connection's own error says why).
      const failingFromStart =
        l.mode === 'static' &&
        entry.reported === 'shared' &&
        entry.reason !== '' &&
        now - this.#linkSince >= this.timing.fallbackAfterMs;
      if (changed.some((mode) => mode !== undefined) || failingFromStart) this.#report(entry);
    }
    if (!link.loading) {
      for (const entry of this.#entries.values()) {
        const l = entry.ledgers;
        if (l.rpm?.renewDue(now)) this.#renewRate(link, entry, l.rpm, entry.keys.rpm, now);
        if (l.tpm?.renewDue(now)) this.#renewRate(link, entry, l.tpm, entry.keys.tpm, now);
        if (l.par?.renewDue(now)) this.#renewSlots(link, entry, l.par, now);
      }
    }
    this.#schedule(Math.min(this.timing.renewMs, 50));
  }

  #renewRate(link: RedisLink, entry: Entry, ledger: RateLedger, keys: RateKeys, now: number): void {
    const args = rateArgs(ledger, ledger.renewRequest(now), this.#deps.sidecarId);
    link.rate(keys, args).then(
      (reply) => {
        const parsed = parseRate(reply);
        ledger.onReply(now, this.#deps.clock.now(), parsed);
        entry.reason = '';
        this.#report(entry);
        if (parsed.grant > 0) this.#deps.roomChanged?.();
      },
      (error: unknown) => {
        ledger.onFailure(this.#deps.clock.now());
        entry.reason = failureKind(error);
      },
    );
  }

  #renewSlots(link: RedisLink, entry: Entry, ledger: SlotLedger, now: number): void {
    const inFlight = this.#inFlightOf(entry);
    const r = ledger.renewRequest(now, inFlight);
    link
      .slots(entry.keys.par, entry.keys.parExpiry, [
        ledger.limit,
        this.#deps.sidecarId,
        r.want,
        r.inFlight,
        this.timing.slotExpiryMs,
      ])
      .then(
        (reply) => {
          ledger.onReply(this.#deps.clock.now(), Number(reply[0]));
          entry.reason = '';
          this.#report(entry);
          this.#deps.roomChanged?.();
        },
        (error: unknown) => {
          ledger.onFailure();
          entry.reason = failureKind(error);
        },
      );
  }

  #inFlightOf(entry: Entry): number {
    for (const b of this.#backends) if (b.shared === entry.ledgers) return b.inFlight;
    return 0;
  }

  /** One WARN line and one count per change of a backend's mode. */
  #report(entry: Entry): void {
    const mode = entry.ledgers.mode;
    if (mode === entry.reported) return;
    entry.reported = mode;
    this.#deps.roomChanged?.();
    this.#changes.labels(mode === 'shared' ? 'shared' : 'fallback').inc();
    const link = this.#link;
    const redis = link?.target.display;
    if (mode === 'shared')
      this.#deps.logger.warn({ backend: entry.name, redis }, 'pool-wide limits: shared through Redis');
    else
      this.#deps.logger.warn(
        { backend: entry.name, redis, problem: link === undefined ? entry.reason : reasonOf(link, entry.reason) },
        'pool-wide limits: Redis failing, falling back to the static share floor((limit - known - promised) / sidecar_count)',
      );
  }

  #stop(): void {
    if (this.#timer !== undefined) this.#deps.timers.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#link?.close();
    this.#link = undefined;
  }

  /** A graceful stop: give this sidecar's concurrency slots back, then disconnect. */
  async close(): Promise<void> {
    const link = this.#link;
    if (link !== undefined)
      await Promise.all(
        [...this.#entries.values()]
          .filter((e) => e.ledgers.par !== undefined)
          .map((e) => link.release(e.keys.par, e.keys.parExpiry, this.#deps.sidecarId, e.ledgers.par!.limit)),
      );
    this.#stop();
  }
}

/** The failure in our words: "not connected" says more with why the connection failed (refused auth, refused connection); none: Redis went silent. */
function reasonOf(link: RedisLink, kind: string): string {
  if (kind === '') return 'no answer in time';
  return kind === 'not connected' && link.lastProblem !== '' ? link.lastProblem : kind;
}

function keysOf(prefix: string, backendId: string): Entry['keys'] {
  return {
    rpm: [
      limitKey(prefix, backendId, 'rpm'),
      limitKey(prefix, backendId, 'rpm-promised'),
      limitKey(prefix, backendId, 'rpm-seen'),
    ],
    tpm: [
      limitKey(prefix, backendId, 'tpm'),
      limitKey(prefix, backendId, 'tpm-promised'),
      limitKey(prefix, backendId, 'tpm-seen'),
    ],
    par: limitKey(prefix, backendId, 'par'),
    parExpiry: limitKey(prefix, backendId, 'par-expiry'),
  };
}
