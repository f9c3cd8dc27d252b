/**
 * A list+watch cache that does not stop. @kubernetes/client-node's own ListWatch stops for good on
 * a non-410 error and swallows callback errors; this loop instead:
 * - lists, then watches from that resourceVersion with bookmarks and a server-side timeout;
 * - resumes from the last resourceVersion when the server ends a watch cleanly;
 * - re-lists and diffs against its store after 410 Gone and after any error (so events missed
 *   while disconnected — deletions included — are never lost);
 * - restarts with jittered exponential backoff, counted in `restarts`;
 * - aborts a watch that has been silent past `inactivityMs` (a watchdog for dead connections),
 *   and re-lists every `relistMs` as a safety net. Only real failures count as restarts.
 * The watchdog defaults to the watch's own server-side timeout + 30 s: a live apiserver ends the
 * watch (with a bookmark just before) by then, however quiet the resource. Periodic bookmarks are
 * not frequent enough to rely on: kube-apiserver 1.34 sent the first one on a quiet watch after
 * 120 s, so any shorter client timer (client-node's 30 s, or 90 s) restarts quiet watches.
 * resourceVersions are opaque: only compared for equality. Handlers should only enqueue work.
 */
import type { Logger } from 'pino';
import { sleep, type Clock, type Random, type Timers } from '../common/clock.ts';
import { keyOf, type KubeObject, type ObjectList, type WatchEvent } from './api.ts';

/** The two calls an informer makes (KubeApi has both; tests pass a fake). */
export interface ListWatchApi {
  list<T extends KubeObject>(path: string, query: Record<string, string | undefined>): Promise<ObjectList<T>>;
  watch(path: string, query: Record<string, string | undefined>, signal: AbortSignal): AsyncIterable<WatchEvent>;
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
  readonly onRestart?: (reason: string) => void;
  readonly logger: Logger;
  readonly timers: Timers;
  readonly clock: Clock;
  readonly random: Random;
  readonly watchTimeoutSeconds?: number;
  readonly inactivityMs?: number;
  readonly relistMs?: number;
  readonly backoffBaseMs?: number;
  readonly backoffMaxMs?: number;
}

interface WatchEventObject extends KubeObject {
  code?: number;
  reason?: string;
  message?: string;
}

export class Informer<T extends KubeObject> {
  readonly store = new Map<string, T>();
  restarts = 0;
  #synced = false;
  #rv: string | undefined;
  #needList = true;
  #relistRequested = false;
  #stopped = false;
  #abort: AbortController | undefined;
  #lastActivity = 0;
  #failures = 0;
  #syncWaiters: (() => void)[] = [];
  readonly #api: ListWatchApi;
  readonly #o: InformerOptions<T>;

  constructor(api: ListWatchApi, options: InformerOptions<T>) {
    this.#api = api;
    this.#o = options;
  }

  get synced(): boolean {
    return this.#synced;
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
    this.#abort?.abort();
  }

  #query(): Record<string, string | undefined> {
    return { labelSelector: this.#o.labelSelector, fieldSelector: this.#o.fieldSelector };
  }

  async #run(): Promise<void> {
    while (!this.#stopped) {
      try {
        if (this.#needList) await this.#relist();
        await this.#watchOnce();
      } catch (error) {
        if (this.#stopped) return;
        this.#needList = true;
        if (this.#relistRequested) {
          this.#relistRequested = false; // our own periodic re-list, not a failure
          continue;
        }
        this.restarts++;
        this.#failures++;
        const reason = (error as Error).message ?? String(error);
        this.#o.onRestart?.(reason);
        const delay = Math.min(this.#o.backoffMaxMs ?? 30_000, (this.#o.backoffBaseMs ?? 250) * 2 ** Math.min(this.#failures - 1, 10));
        const jittered = delay * (0.5 + this.#o.random() / 2);
        this.#o.logger.warn({ informer: this.#o.name, reason, retry_in_ms: Math.round(jittered), restarts: this.restarts }, 'watch restarting');
        await sleep(this.#o.timers, jittered);
      }
    }
  }

  /** Lists and diffs against the store, so deletions missed while disconnected are seen. */
  async #relist(): Promise<void> {
    const listed = await this.#api.list<T>(this.#o.path, this.#query());
    const seen = new Set<string>();
    for (const raw of listed.items) {
      const item = this.#o.transform?.(raw) ?? raw;
      const key = keyOf(item);
      seen.add(key);
      const previous = this.store.get(key);
      this.store.set(key, item);
      if (previous === undefined) this.#emit('added', item, undefined);
      else if (previous.metadata.resourceVersion !== item.metadata.resourceVersion) this.#emit('updated', item, previous);
    }
    for (const [key, previous] of this.store) {
      if (!seen.has(key)) {
        this.store.delete(key);
        this.#emit('deleted', previous, previous);
      }
    }
    this.#rv = listed.resourceVersion;
    this.#needList = false;
    this.#relistRequested = false;
    this.#failures = 0;
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
      const gone = object.code === 410;
      if (gone) this.#needList = true;
      throw new Error(gone ? 'resourceVersion too old (410 Gone)' : `watch error ${object.code ?? ''} ${object.message ?? ''}`.trim());
    }
    const rv = object.metadata?.resourceVersion;
    if (type === 'BOOKMARK') {
      if (rv !== undefined) this.#rv = rv;
      return;
    }
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
    if (rv !== undefined) this.#rv = rv;
  }

  /**
   * One watch from the last resourceVersion until the server ends it (resolve) or it fails
   * (reject). The only client-side timer is the watchdog, which outlasts the server's bookmarks.
   */
  async #watchOnce(): Promise<void> {
    const abort = new AbortController();
    this.#abort = abort;
    const timeoutSeconds = this.#o.watchTimeoutSeconds ?? 300;
    const inactivityMs = this.#o.inactivityMs ?? (timeoutSeconds + 30) * 1000;
    this.#lastActivity = this.#o.clock.now();
    let silent: Error | undefined;
    let watchdog: unknown;
    const check = () => {
      if (abort.signal.aborted) return;
      if (this.#o.clock.now() - this.#lastActivity > inactivityMs) {
        silent = new Error(`no watch activity for ${inactivityMs} ms`);
        abort.abort(silent);
      } else watchdog = this.#o.timers.setTimeout(check, inactivityMs / 3);
    };
    watchdog = this.#o.timers.setTimeout(check, inactivityMs / 3);
    try {
      const query = { ...this.#query(), resourceVersion: this.#rv, allowWatchBookmarks: 'true', timeoutSeconds: String(timeoutSeconds) };
      for await (const { type, object } of this.#api.watch(this.#o.path, query, abort.signal)) {
        this.#apply(type, object as WatchEventObject);
      }
    } catch (error) {
      throw silent ?? error;
    } finally {
      this.#o.timers.clearTimeout(watchdog);
      abort.abort();
    }
  }

  /** Periodic full re-list: a safety net against a watch that silently missed events. */
  #scheduleRelist(): void {
    const every = this.#o.relistMs ?? 10 * 60_000;
    this.#o.timers.setTimeout(() => {
      if (this.#stopped) return;
      this.#needList = true;
      this.#relistRequested = true;
      this.#abort?.abort();
      this.#scheduleRelist();
    }, every * (0.9 + 0.2 * this.#o.random()));
  }
}
