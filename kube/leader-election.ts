/**
 * Leader election on a coordination.k8s.io/v1 Lease, as client-go does it: a holder renews every
 * retry period; others take over only after the lease has gone unrenewed for leaseDuration on
 * *their own* clock (no trust in the holder's clock); writes use resourceVersion preconditions,
 * so two candidates can never both succeed. A leader that cannot renew within renewDeadline steps
 * down. Defaults match controller-runtime: 15 s / 10 s / 2 s.
 */
import type { Logger } from 'pino';
import type { Clock, Timers } from '../common/clock.ts';
import { KubeApiError, type KubeApi } from './api.ts';

interface Lease {
  apiVersion: 'coordination.k8s.io/v1';
  kind: 'Lease';
  metadata: { name: string; namespace: string; resourceVersion?: string };
  spec: { holderIdentity?: string; leaseDurationSeconds?: number; acquireTime?: string; renewTime?: string; leaseTransitions?: number };
}

export interface LeaderElectionOptions {
  readonly namespace: string;
  readonly name: string;
  readonly identity: string;
  readonly leaseDurationMs?: number;
  readonly renewDeadlineMs?: number;
  readonly retryPeriodMs?: number;
  readonly onStartedLeading: () => void;
  readonly onStoppedLeading: () => void;
  readonly logger: Logger;
  readonly timers: Timers;
  readonly clock: Clock;
}

/** MicroTime, as the Lease API wants it. */
function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

export class LeaderElector {
  isLeader = false;
  readonly #api: KubeApi;
  readonly #o: LeaderElectionOptions;
  #observedRecord = '';
  #observedAt = 0;
  #lastRenew = 0;
  #timer: unknown;
  #stopped = false;

  constructor(api: KubeApi, options: LeaderElectionOptions) {
    this.#api = api;
    this.#o = options;
  }

  get #path(): string {
    return `/apis/coordination.k8s.io/v1/namespaces/${this.#o.namespace}/leases`;
  }

  start(): void {
    void this.#tick();
  }

  async #tick(): Promise<void> {
    if (this.#stopped) return;
    let acquired = false;
    try {
      acquired = await this.#tryAcquireOrRenew();
    } catch (error) {
      this.#o.logger.warn({ err: (error as Error).message, lease: this.#o.name }, 'lease update failed');
    }
    const now = this.#o.clock.now();
    if (acquired) {
      this.#lastRenew = now;
      if (!this.isLeader) {
        this.isLeader = true;
        this.#o.logger.info({ identity: this.#o.identity, lease: `${this.#o.namespace}/${this.#o.name}` }, 'became leader');
        this.#o.onStartedLeading();
      }
    } else if (this.isLeader && now - this.#lastRenew > (this.#o.renewDeadlineMs ?? 10_000)) {
      this.isLeader = false;
      this.#o.logger.warn({ identity: this.#o.identity }, 'lost leadership: could not renew the lease in time');
      this.#o.onStoppedLeading();
    }
    if (!this.#stopped) this.#timer = this.#o.timers.setTimeout(() => void this.#tick(), this.#o.retryPeriodMs ?? 2_000);
  }

  async #tryAcquireOrRenew(): Promise<boolean> {
    const now = this.#o.clock.now();
    const wall = this.#o.clock.wallNow();
    const durationS = Math.ceil((this.#o.leaseDurationMs ?? 15_000) / 1000);
    const current = await this.#api.get<Lease>(`${this.#path}/${this.#o.name}`);
    if (current === undefined) {
      const lease: Lease = {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { name: this.#o.name, namespace: this.#o.namespace },
        spec: { holderIdentity: this.#o.identity, leaseDurationSeconds: durationS, acquireTime: microTime(wall), renewTime: microTime(wall), leaseTransitions: 0 },
      };
      return this.#write('POST', this.#path, lease);
    }
    const record = `${current.spec.holderIdentity ?? ''}|${current.spec.renewTime ?? ''}`;
    if (record !== this.#observedRecord) {
      this.#observedRecord = record;
      this.#observedAt = now;
    }
    const holder = current.spec.holderIdentity ?? '';
    const held = holder !== '' && holder !== this.#o.identity;
    const expiresAt = this.#observedAt + (current.spec.leaseDurationSeconds ?? durationS) * 1000;
    if (held && now < expiresAt) return false;
    const mine = holder === this.#o.identity;
    const next: Lease = {
      ...current,
      spec: {
        holderIdentity: this.#o.identity,
        leaseDurationSeconds: durationS,
        acquireTime: mine ? current.spec.acquireTime : microTime(wall),
        renewTime: microTime(wall),
        leaseTransitions: (current.spec.leaseTransitions ?? 0) + (mine ? 0 : 1),
      },
    };
    return this.#write('PUT', `${this.#path}/${this.#o.name}`, next);
  }

  /** A conflict (another candidate wrote first) is a lost race, not an error. */
  async #write(method: 'POST' | 'PUT', path: string, lease: Lease): Promise<boolean> {
    try {
      const written = await this.#api.request<Lease>(method, path, { body: lease, timeoutMs: this.#o.renewDeadlineMs ?? 10_000 });
      this.#observedRecord = `${written.spec.holderIdentity ?? ''}|${written.spec.renewTime ?? ''}`;
      this.#observedAt = this.#o.clock.now();
      return true;
    } catch (error) {
      if (error instanceof KubeApiError && (error.status === 409 || (method === 'POST' && error.reason === 'AlreadyExists'))) return false;
      throw error;
    }
  }

  /** Stops campaigning; a leader gives the lease up so a standby takes over at once. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#o.timers.clearTimeout(this.#timer);
    if (!this.isLeader) return;
    this.isLeader = false;
    try {
      const current = await this.#api.get<Lease>(`${this.#path}/${this.#o.name}`);
      if (current?.spec.holderIdentity === this.#o.identity) {
        await this.#api.request('PUT', `${this.#path}/${this.#o.name}`, { body: { ...current, spec: { ...current.spec, holderIdentity: '', leaseDurationSeconds: 1 } } });
      }
    } catch {
      // best effort: the lease expires on its own
    }
  }
}
