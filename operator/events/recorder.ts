/**
 * Records Kubernetes Events off the reconcile path. `record` only updates an in-memory series
 * (event-series.ts) and queues its key; one sender writes them in order: create the first time,
 * then patch count/lastTimestamp/message at most once a minute per series. The queue holds
 * each series once and at most `maxPending` of them (more are dropped and counted); at most
 * `maxSeries` series are remembered (least recently used go first, as client-go's 4,096).
 */
import type { Logger } from 'pino';
import type { KubeApi } from '../../kube/api.ts';
import { KubeApiError } from '../../kube/api.ts';
import type { Clock, Timers } from '../../common/clock.ts';
import { nextWrite, seriesKey, type EventSeries, type InvolvedObject } from './event-series.ts';

export interface RecorderOptions {
  readonly api: Pick<KubeApi, 'request'>;
  readonly clock: Clock;
  readonly timers: Timers;
  readonly logger: Logger;
  readonly component: string;
  readonly instance: string;
  readonly minPatchIntervalMs?: number;
  readonly maxPending?: number;
  readonly maxSeries?: number;
  /** Attempts at one write before the series is given up. */
  readonly maxFailures?: number;
}

/**
 * One patch per series per minute: under churn every pool renders every few seconds, and a
 * shorter interval would still cost about one Event write per render (measured: 10 s -> 1,146
 * patches for 1,200 renders over 200 pools in 60 s).
 */
const DEFAULT_PATCH_INTERVAL_MS = 60_000;

/** Messages are our own words, but bounded anyway (the API allows 1 KiB for note/message). */
const MAX_MESSAGE = 1000;

export class EventRecorder {
  readonly #o: RecorderOptions;
  readonly #series = new Map<string, EventSeries>();
  readonly #pending: string[] = [];
  readonly #queued = new Set<string>();
  readonly #waiting = new Map<string, unknown>();
  #sending = false;
  #stopped = false;
  dropped = 0;
  writes = 0;

  constructor(options: RecorderOptions) {
    this.#o = options;
  }

  /** Never blocks and never throws. */
  record(involved: InvolvedObject, type: 'Normal' | 'Warning', reason: string, message: string): void {
    if (this.#stopped) return;
    const key = seriesKey(involved, type, reason);
    const wall = this.#o.clock.wallNow();
    let series = this.#series.get(key);
    if (series === undefined) {
      series = {
        involved,
        type,
        reason,
        message: '',
        count: 0,
        writtenCount: 0,
        firstAt: wall,
        lastAt: wall,
        name: undefined,
        lastWriteAt: undefined,
        failures: 0,
      };
    } else this.#series.delete(key); // re-inserted below: most recently used last
    this.#series.set(key, series);
    series.count++;
    series.lastAt = wall;
    series.message = message.slice(0, MAX_MESSAGE);
    this.#evict();
    this.#enqueue(key);
  }

  get pending(): number {
    return this.#pending.length;
  }

  stop(): void {
    this.#stopped = true;
    for (const handle of this.#waiting.values()) this.#o.timers.clearTimeout(handle);
    this.#waiting.clear();
  }

  #evict(): void {
    const max = this.#o.maxSeries ?? 4096;
    for (const key of this.#series.keys()) {
      if (this.#series.size <= max) break;
      this.#series.delete(key);
    }
  }

  #enqueue(key: string): void {
    if (this.#queued.has(key) || this.#waiting.has(key)) return;
    if (this.#pending.length >= (this.#o.maxPending ?? 1000)) {
      this.dropped++;
      return;
    }
    this.#queued.add(key);
    this.#pending.push(key);
    void this.#send();
  }

  async #send(): Promise<void> {
    if (this.#sending) return;
    this.#sending = true;
    try {
      for (let key = this.#pending.shift(); key !== undefined && !this.#stopped; key = this.#pending.shift()) {
        this.#queued.delete(key);
        const series = this.#series.get(key);
        if (series === undefined) continue;
        const step = nextWrite(series, this.#o.clock.now(), this.#o.minPatchIntervalMs ?? DEFAULT_PATCH_INTERVAL_MS);
        if (step.kind === 'none') continue;
        if (step.kind === 'wait') {
          this.#waitThenEnqueue(key, step.ms);
          continue;
        }
        await this.#write(key, series, step.kind);
      }
    } finally {
      this.#sending = false;
    }
  }

  #waitThenEnqueue(key: string, ms: number): void {
    this.#waiting.set(
      key,
      this.#o.timers.setTimeout(() => {
        this.#waiting.delete(key);
        this.#enqueue(key);
      }, ms),
    );
  }

  async #write(key: string, series: EventSeries, kind: 'create' | 'patch'): Promise<void> {
    const count = series.count;
    const ns = series.involved.namespace;
    const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
    try {
      this.writes++;
      if (kind === 'create') {
        const name = `${series.involved.name}.${(this.#o.clock.wallNow() * 1000).toString(16)}`.slice(0, 253);
        await this.#o.api.request('POST', `/api/v1/namespaces/${ns}/events`, {
          body: {
            apiVersion: 'v1',
            kind: 'Event',
            metadata: { name, namespace: ns },
            involvedObject: series.involved,
            type: series.type,
            reason: series.reason,
            message: series.message,
            source: { component: this.#o.component },
            reportingComponent: this.#o.component,
            reportingInstance: this.#o.instance.slice(0, 128),
            firstTimestamp: iso(series.firstAt),
            lastTimestamp: iso(series.lastAt),
            count,
          },
        });
        series.name = name;
      } else {
        await this.#o.api.request('PATCH', `/api/v1/namespaces/${ns}/events/${series.name}`, {
          body: { count, lastTimestamp: iso(series.lastAt), message: series.message },
          contentType: 'application/merge-patch+json',
        });
      }
      series.writtenCount = count;
      series.failures = 0;
    } catch (error) {
      series.failures++;
      // The Event expired (1 h TTL) or was deleted: the next write creates a new one.
      if (error instanceof KubeApiError && error.status === 404) series.name = undefined;
      if (series.failures >= (this.#o.maxFailures ?? 3)) {
        this.#series.delete(key);
        this.#o.logger.warn(
          { object: `${ns}/${series.involved.name}`, reason: series.reason, err: (error as Error).message },
          'could not record an event; giving it up',
        );
        return;
      }
    } finally {
      series.lastWriteAt = this.#o.clock.now();
    }
    if (series.count !== series.writtenCount && this.#series.has(key)) this.#enqueue(key);
  }
}
