/**
 * A list+watch cache that does not stop, as client-go's reflector (the decisions: reflector-plan.ts).
 * @kubernetes/client-node's own ListWatch stops for good on a non-410 error and swallows callback
 * errors; this loop instead:
 * - lists from the API server's watch cache (`resourceVersion=0` first, then the last RV seen,
 *   not older than it), and consistently (paged) only when the server says that RV is unusable;
 * - watches from that resourceVersion with bookmarks and a jittered server-side timeout, and
 *   resumes from the last resourceVersion when the server ends a watch or a stream is cut;
 * - re-lists (from the cache) after 410 Gone and other failed watches, and diffs against its store
 *   (so events missed while disconnected — deletions included — are never lost);
 * - backs off exponentially with jitter after every failure, a watch that closes at once included,
 *   and at least as long as a 429's Retry-After asks; failures are counted in `restarts`;
 * - aborts a watch that has been silent past `inactivityMs` (a watchdog for dead connections),
 *   and re-lists every `relistMs` as a safety net. Only real failures count as restarts.
 * The watchdog defaults to the watch's own server-side timeout + 30 s: a live apiserver ends the
 * watch (with a bookmark just before) by then, however quiet the resource. Periodic bookmarks are
 * not frequent enough to rely on: kube-apiserver 1.34 sent the first one on a quiet watch after
 * 120 s, so any shorter client timer (client-node's 30 s, or 90 s) restarts quiet watches.
 * resourceVersions are opaque: only compared for equality. Handlers should only enqueue work.
 */
import type { Logger } from 'pino';
import type { Clock, Random, Timers } from '../common/clock.ts';
import {
  KubeApiError,
  keyOf,
  type KubeObject,
  type ObjectDecoder,
  type ObjectList,
  type ProtobufOption,
  type WatchEvent,
} from './api.ts';
import { listPages } from './list-pages.ts';
import { ProtobufError } from './protobuf/wire.ts';
import {
  DEFAULT_TUNING,
  INITIAL_STATE,
  afterList,
  afterListFailure,
  afterWatch,
  listQuery,
  type BackoffTuning,
  type ReflectorState,
  type Step,
  type WatchEnd,
} from './reflector-plan.ts';

/** The two calls an informer makes (KubeApi has both; tests pass a fake, which may ignore `protobuf`). */
export interface ListWatchApi {
  list<T extends KubeObject>(
    path: string,
    query: Record<string, string | undefined>,
    options?: { signal?: AbortSignal } & ProtobufOption<T>,
  ): Promise<ObjectList<T>>;
  watch(
    path: string,
    query: Record<string, string | undefined>,
    signal: AbortSignal,
    options?: ProtobufOption<unknown>,
  ): AsyncIterable<WatchEvent>;
}

export type InformerEvent = 'added' | 'updated' | 'deleted';

export interface InformerOptions<T extends KubeObject> {
  readonly name: string;
  /** Collection path, e.g. /apis/discovery.k8s.io/v1/endpointslices or /api/v1/namespaces/ns/configmaps. */
  readonly path: string;
  readonly labelSelector?: string;
  readonly fieldSelector?: string;
  readonly onEvent: (event: InformerEvent, object: T, previous: T | undefined) => void;
  /**
   * Applied to every object before it is stored (client-go's TransformFunc): keep only what the
   * handlers and readers need, so the cache does not hold managedFields or whole payloads.
   */
  readonly transform?: (object: T) => T;
  /**
   * List and watch in protobuf, decoding each object's message with this (a built-in resource
   * only; the transform still applies). A server that answers JSON instead is read as JSON.
   */
  readonly protobuf?: ObjectDecoder<T>;
  /** Told of every failure (a restart), with what went wrong. */
  readonly onRestart?: (reason: string) => void;
  readonly logger: Logger;
  readonly timers: Timers;
  readonly clock: Clock;
  readonly random: Random;
  /** The watch's server-side timeout; default 300-600 s, jittered per watch (client-go's). */
  readonly watchTimeoutSeconds?: number;
  /** The watchdog; default the watch's timeout + 30 s. */
  readonly inactivityMs?: number;
  readonly relistMs?: number;
  /** Backoff on failures: first delay (default 800 ms, jittered up to twice that), cap (30 s), reset after (2 min). */
  readonly backoffBaseMs?: number;
  readonly backoffMaxMs?: number;
  readonly backoffResetMs?: number;
  /** Objects per page of a paged (consistent) list; default 500. */
  readonly pageSize?: number;
}

interface WatchEventObject extends KubeObject {
  code?: number;
  reason?: string;
  message?: string;
  details?: { retryAfterSeconds?: number };
}

/** The server's shortest watch timeout; each watch asks for 1-2x this (jitter spreads re-watches). */
const MIN_WATCH_TIMEOUT_S = 300;

export class Informer<T extends KubeObject> {
  readonly store = new Map<string, T>();
  restarts = 0;
  #synced = false;
  #state: ReflectorState = INITIAL_STATE;
  #relistRequested = false;
  #stopped = false;
  readonly #life = new AbortController();
  #watchAbort: AbortController | undefined;
  #wake: (() => void) | undefined;
  #relistTimer: unknown;
  #lastActivity = 0;
  #syncWaiters: (() => void)[] = [];
  /** The protobuf decoder while it works; undefined (JSON) after it failed once. */
  #protobuf: ObjectDecoder<T> | undefined;
  readonly #api: ListWatchApi;
  readonly #o: InformerOptions<T>;
  readonly #tuning: BackoffTuning;

  constructor(api: ListWatchApi, options: InformerOptions<T>) {
    this.#api = api;
    this.#o = options;
    this.#protobuf = options.protobuf;
    this.#tuning = {
      baseMs: options.backoffBaseMs ?? DEFAULT_TUNING.baseMs,
      maxMs: options.backoffMaxMs ?? DEFAULT_TUNING.maxMs,
      resetMs: options.backoffResetMs ?? DEFAULT_TUNING.resetMs,
      pageSize: options.pageSize ?? DEFAULT_TUNING.pageSize,
    };
  }

  get synced(): boolean {
    return this.#synced;
  }

  /** The last resourceVersion seen (opaque), for a status that says how fresh the cache is. */
  get resourceVersion(): string | undefined {
    return this.#state.rv;
  }

  /** Resolves once the first list has been applied. */
  waitForSync(): Promise<void> {
    return this.#synced ? Promise.resolve() : new Promise((resolve) => this.#syncWaiters.push(resolve));
  }

  list(): T[] {
    return [...this.store.values()];
  }

  start(): void {
    void this.#run();
    this.#scheduleRelist();
  }

  stop(): void {
    this.#stopped = true;
    this.#life.abort();
    this.#watchAbort?.abort();
    this.#o.timers.clearTimeout(this.#relistTimer);
    this.#wake?.();
  }

  #selectors(): Record<string, string | undefined> {
    return { labelSelector: this.#o.labelSelector, fieldSelector: this.#o.fieldSelector };
  }

  /** The loop: do what the plan says, wait what it says. Decisions live in reflector-plan.ts. */
  async #run(): Promise<void> {
    let next: Step['next'] = 'list';
    while (!this.#stopped) {
      if (next === 'watch' && this.#relistRequested) next = 'list';
      const step: Step = next === 'list' ? await this.#listStep() : await this.#watchStep();
      if (this.#stopped) return;
      this.#state = step.state;
      if (step.failure !== undefined) {
        this.restarts++;
        this.#o.onRestart?.(step.failure);
        this.#o.logger.warn(
          {
            informer: this.#o.name,
            reason: step.failure,
            next: step.next,
            retry_in_ms: Math.round(step.delayMs),
            restarts: this.restarts,
          },
          'watch restarting',
        );
      }
      if (step.delayMs > 0) await this.#sleep(step.delayMs);
      next = step.next;
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const handle = this.#o.timers.setTimeout(() => {
        this.#wake = undefined;
        resolve();
      }, ms);
      this.#wake = () => {
        this.#o.timers.clearTimeout(handle);
        resolve();
      };
    });
  }

  async #listStep(): Promise<Step> {
    this.#relistRequested = false;
    const query = listQuery(this.#state, this.#tuning);
    try {
      const listed = await listPages<T>(
        this.#api,
        this.#o.path,
        { ...this.#selectors(), ...query },
        this.#life.signal,
        this.#protobuf,
      );
      this.#replace(listed.items);
      return afterList(this.#state, { rv: listed.resourceVersion, pagedResult: listed.paged, query });
    } catch (error) {
      this.#protobufFailed(error);
      return afterListFailure(this.#state, error, this.#o.clock.now(), this.#tuning, this.#o.random);
    }
  }

  /** Applies a full list: diffs against the store, so deletions missed while disconnected are seen. */
  #replace(items: readonly T[]): void {
    const seen = new Set<string>();
    for (const raw of items) {
      const item = this.#o.transform?.(raw) ?? raw;
      const key = keyOf(item);
      seen.add(key);
      const previous = this.store.get(key);
      this.store.set(key, item);
      if (previous === undefined) this.#emit('added', item, undefined);
      else if (previous.metadata.resourceVersion !== item.metadata.resourceVersion)
        this.#emit('updated', item, previous);
    }
    for (const [key, previous] of this.store) {
      if (!seen.has(key)) {
        this.store.delete(key);
        this.#emit('deleted', previous, previous);
      }
    }
    if (!this.#synced) {
      this.#synced = true;
      for (const wake of this.#syncWaiters.splice(0)) wake();
    }
  }

  #emit(event: InformerEvent, object: T, previous: T | undefined): void {
    try {
      this.#o.onEvent(event, object, previous);
    } catch (error) {
      this.#o.logger.error({ informer: this.#o.name, err: error }, 'informer handler failed');
    }
  }

  #apply(type: string, object: WatchEventObject): void {
    this.#lastActivity = this.#o.clock.now();
    if (type === 'ERROR') {
      // A Status in the stream: 410 Expired (our RV was compacted), 429, 500, ...
      throw new KubeApiError(
        object.code ?? 0,
        `watch ${this.#o.path}: ${object.message ?? `error ${object.code ?? ''}`}`,
        object.reason,
        object.details?.retryAfterSeconds,
      );
    }
    const rv = object.metadata?.resourceVersion;
    if (type !== 'BOOKMARK') {
      const item = this.#o.transform?.(object as unknown as T) ?? (object as unknown as T);
      const key = keyOf(item);
      const previous = this.store.get(key);
      if (type === 'DELETED') {
        this.store.delete(key);
        this.#emit('deleted', item, previous);
      } else {
        this.store.set(key, item);
        this.#emit(previous === undefined ? 'added' : 'updated', item, previous);
      }
    }
    if (rv !== undefined && rv !== '') this.#state = { ...this.#state, rv };
  }

  async #watchStep(): Promise<Step> {
    const end = await this.#watchOnce();
    return afterWatch(this.#state, end, this.#o.clock.now(), this.#tuning, this.#o.random);
  }

  /**
   * One watch from the last resourceVersion until the server ends it or it fails. The only
   * client-side timer is the watchdog, which outlasts the server's own timeout and bookmarks.
   */
  async #watchOnce(): Promise<WatchEnd> {
    const abort = new AbortController();
    this.#watchAbort = abort;
    const timeoutSeconds = this.#o.watchTimeoutSeconds ?? Math.floor(MIN_WATCH_TIMEOUT_S * (1 + this.#o.random()));
    const inactivityMs = this.#o.inactivityMs ?? (timeoutSeconds + 30) * 1000;
    const started = this.#o.clock.now();
    this.#lastActivity = started;
    let silent = false;
    let events = 0;
    let watchdog: unknown;
    const check = () => {
      if (abort.signal.aborted) return;
      if (this.#o.clock.now() - this.#lastActivity > inactivityMs) {
        silent = true;
        abort.abort(new Error('watchdog'));
      } else watchdog = this.#o.timers.setTimeout(check, inactivityMs / 3);
    };
    watchdog = this.#o.timers.setTimeout(check, inactivityMs / 3);
    try {
      const query = {
        ...this.#selectors(),
        resourceVersion: this.#state.rv,
        allowWatchBookmarks: 'true',
        timeoutSeconds: String(timeoutSeconds),
      };
      const options = { protobuf: this.#protobuf };
      for await (const { type, object } of this.#api.watch(this.#o.path, query, abort.signal, options)) {
        events++;
        this.#apply(type, object as WatchEventObject);
      }
      return { how: 'ended', ms: this.#o.clock.now() - started, events };
    } catch (error) {
      if (silent) return { how: 'silent', ms: this.#o.clock.now() - this.#lastActivity };
      if (this.#relistRequested && abort.signal.aborted) return { how: 'relist' };
      this.#protobufFailed(error);
      return { how: 'failed', error, ms: this.#o.clock.now() - started, events };
    } finally {
      this.#o.timers.clearTimeout(watchdog);
      abort.abort();
    }
  }

  /**
   * A protobuf body we could not decode (a field of a type we did not expect, a newer server):
   * the failure backs off and retries as any other, and from then on this informer reads JSON,
   * which the server always has, instead of failing on the same bytes forever.
   */
  #protobufFailed(error: unknown): void {
    if (!(error instanceof ProtobufError) || this.#protobuf === undefined) return;
    this.#protobuf = undefined;
    this.#o.logger.warn(
      { informer: this.#o.name, err: error.message },
      'protobuf response not decodable: reading JSON from now on',
    );
  }

  /** Periodic re-list (from the watch cache): a safety net against a watch that silently missed events. */
  #scheduleRelist(): void {
    const every = this.#o.relistMs ?? 10 * 60_000;
    this.#relistTimer = this.#o.timers.setTimeout(
      () => {
        if (this.#stopped) return;
        this.#relistRequested = true;
        this.#watchAbort?.abort();
        this.#scheduleRelist();
      },
      every * (0.9 + 0.2 * this.#o.random()),
    );
  }
}
