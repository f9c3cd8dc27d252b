/**
 * Leader election on a coordination.k8s.io/v1 Lease, as client-go does it: a holder renews every
 * retry period; others take over only after the lease has gone unrenewed for leaseDuration on
 * *their own* clock (no trust in the holder's clock); writes use resourceVersion preconditions,
 * so two candidates can never both succeed. Defaults match controller-runtime: 15 s / 10 s / 2 s.
 *
 * A leadership term is an AbortSignal (given to onStartedLeading), aborted on a timer at
 * renewDeadline after the last successful renew was sent — not checked after an await — so it
 * ends while a request still hangs, before any standby can take over (leaseDuration after it
 * last saw a renew, on its clock). Every lease request runs under the term (a leader) or under
 * renewDeadline (a candidate), so none outlives it.
 */
import type { Logger } from 'pino';
import type { Clock, Timers } from '../common/clock.ts';
import { deadline } from '../common/deadline.ts';
import { KubeApiError, type KubeApi } from './api.ts';

interface Lease {
  apiVersion: 'coordination.k8s.io/v1';
  kind: 'Lease';
  metadata: { name: string; namespace: string; resourceVersion?: string };
  spec: {
    holderIdentity?: string;
    leaseDurationSeconds?: number;
    acquireTime?: string;
    renewTime?: string;
    leaseTransitions?: number;
  };
}

export interface LeaderElectionOptions {
  readonly namespace: string;
  readonly name: string;
  readonly identity: string;
  readonly leaseDurationMs?: number;
  readonly renewDeadlineMs?: number;
  readonly retryPeriodMs?: number;
  /** A term begins: `term` aborts when it ends (lost, or stop()). Run every leader-only task under it. */
  readonly onStartedLeading: (term: AbortSignal) => void;
  /** The lease could not be renewed in time: the term's signal has been aborted. */
  readonly onStoppedLeading: (reason: string) => void;
  readonly logger: Logger;
  readonly timers: Timers;
  readonly clock: Clock;
}

/** The reason a term's signal carries when the lease was not renewed in time. */
export class LeadershipLostError extends Error {
  readonly code = 'LEADERSHIP_LOST';
  constructor(message: string) {
    super(message);
    this.name = 'LeadershipLostError';
  }
}

/** MicroTime, as the Lease API wants it. */
function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

export class LeaderElector {
  readonly #api: KubeApi;
  readonly #o: LeaderElectionOptions;
  #observedRecord = '';
  #observedAt = 0;
  #timer: unknown;
  #term: AbortController | undefined;
  #termTimer: unknown;
  #stopped = false;

  constructor(api: KubeApi, options: LeaderElectionOptions) {
    this.#api = api;
    this.#o = options;
  }

  get isLeader(): boolean {
    return this.#term !== undefined && !this.#term.signal.aborted;
  }

  get #path(): string {
    return `/apis/coordination.k8s.io/v1/namespaces/${this.#o.namespace}/leases`;
  }

  get #renewDeadlineMs(): number {
    return this.#o.renewDeadlineMs ?? 10_000;
  }

  start(): void {
    void this.#tick();
  }

  async #tick(): Promise<void> {
    if (this.#stopped) return;
    const sentAt = this.#o.clock.now();
    // A leader's attempt ends with its term; a candidate's after renewDeadline.
    const bound = deadline(this.#o.timers, this.#renewDeadlineMs, 'lease update', this.#term?.signal);
    let acquired = false;
    try {
      acquired = await this.#tryAcquireOrRenew(bound.signal);
    } catch (error) {
      if (!this.#stopped)
        this.#o.logger.warn({ err: (error as Error).message, lease: this.#o.name }, 'lease update failed');
    } finally {
      bound.clear();
    }
    if (this.#stopped) return;
    if (acquired) this.#renewed(sentAt);
    this.#timer = this.#o.timers.setTimeout(() => void this.#tick(), this.#o.retryPeriodMs ?? 2_000);
  }

  /** A renew sent at `sentAt` succeeded: the term lasts until renewDeadline after it. */
  #renewed(sentAt: number): void {
    const remaining = sentAt + this.#renewDeadlineMs - this.#o.clock.now();
    if (remaining <= 0) return;
    if (this.#term === undefined) {
      this.#term = new AbortController();
      this.#o.logger.info(
        { identity: this.#o.identity, lease: `${this.#o.namespace}/${this.#o.name}` },
        'became leader',
      );
      this.#o.onStartedLeading(this.#term.signal);
    }
    this.#o.timers.clearTimeout(this.#termTimer);
    this.#termTimer = this.#o.timers.setTimeout(() => this.#lose(), remaining);
  }

  #lose(): void {
    const term = this.#term;
    if (term === undefined) return;
    this.#term = undefined;
    const reason = `could not renew the lease within ${this.#renewDeadlineMs} ms`;
    term.abort(new LeadershipLostError(`lost leadership: ${reason}`));
    this.#o.logger.warn(
      { identity: this.#o.identity, lease: `${this.#o.namespace}/${this.#o.name}` },
      `lost leadership: ${reason}`,
    );
    this.#o.onStoppedLeading(reason);
  }

  async #tryAcquireOrRenew(signal: AbortSignal): Promise<boolean> {
    const now = this.#o.clock.now();
    const wall = this.#o.clock.wallNow();
    const durationS = Math.ceil((this.#o.leaseDurationMs ?? 15_000) / 1000);
    const current = await this.#api.get<Lease>(`${this.#path}/${this.#o.name}`, { signal });
    if (current === undefined) {
      const lease: Lease = {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { name: this.#o.name, namespace: this.#o.namespace },
        spec: {
          holderIdentity: this.#o.identity,
          leaseDurationSeconds: durationS,
          acquireTime: microTime(wall),
          renewTime: microTime(wall),
          leaseTransitions: 0,
        },
      };
      return this.#write('POST', this.#path, lease, signal);
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
    return this.#write('PUT', `${this.#path}/${this.#o.name}`, next, signal);
  }

  /** A conflict (another candidate wrote first) is a lost race, not an error. */
  async #write(method: 'POST' | 'PUT', path: string, lease: Lease, signal: AbortSignal): Promise<boolean> {
    try {
      const written = await this.#api.request<Lease>(method, path, { body: lease, signal });
      this.#observedRecord = `${written.spec.holderIdentity ?? ''}|${written.spec.renewTime ?? ''}`;
      this.#observedAt = this.#o.clock.now();
      return true;
    } catch (error) {
      if (
        error instanceof KubeApiError &&
        (error.status === 409 || (method === 'POST' && error.reason === 'AlreadyExists'))
      )
        return false;
      throw error;
    }
  }

  /** Stops campaigning and ends the term; a leader gives the lease up so a standby takes over at once. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#o.timers.clearTimeout(this.#timer);
    this.#o.timers.clearTimeout(this.#termTimer);
    const term = this.#term;
    if (term === undefined) return;
    this.#term = undefined;
    term.abort(new LeadershipLostError('stopped'));
    const bound = deadline(this.#o.timers, this.#renewDeadlineMs, 'lease release');
    try {
      const current = await this.#api.get<Lease>(`${this.#path}/${this.#o.name}`, { signal: bound.signal });
      if (current?.spec.holderIdentity === this.#o.identity) {
        await this.#api.request('PUT', `${this.#path}/${this.#o.name}`, {
          body: { ...current, spec: { ...current.spec, holderIdentity: '', leaseDurationSeconds: 1 } },
          signal: bound.signal,
        });
      }
    } catch {
      // best effort: the lease expires on its own
    } finally {
      bound.clear();
    }
  }
}
