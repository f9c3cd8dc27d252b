/**
 * Wires informers -> work queue -> reconcile workers. Event handlers only enqueue keys; only the
 * leader runs workers, so two replicas never both write. The workers of a leadership term run
 * under its signal: when the term ends they stop, and every reconcile in flight (bounded by its
 * own deadline under the same signal) has its API calls cancelled — and the process then exits
 * (operator/main.ts), so a new term always starts in a clean process.
 */
import type { Logger } from 'pino';
import { KubeApiError, keyOf, type KubeApi, type KubeObject } from '../../kube/api.ts';
import { Informer, type InformerEvent } from '../../kube/informer.ts';
import { InformerSet } from '../../kube/informer-set.ts';
import type { Clock, Random, Timers } from '../../common/clock.ts';
import { deadline } from '../../common/deadline.ts';
import { EventRecorder } from '../events/recorder.ts';
import { GROUP, KIND, PLURAL, VERSION, type PoolStatus, type RerankerPool } from '../crd/pool-schema.ts';
import { SERVICE_NAME_LABEL, type EndpointSlice } from '../../common/discovery/endpoint-slices.ts';
import { slim, slimConfigMap, slimPod, type CachedConfigMap, type CachedPod } from './cache-transforms.ts';
import { configMapNeedsReconcile, poolsForPod, poolsForService } from './event-routing.ts';
import { queueObserver, type OperatorMetrics } from './metrics.ts';
import {
  MANAGED_BY,
  POOL_LABEL,
  SIDECAR_LABEL,
  reconcilePool,
  type Caches,
  type ReconcilerDeps,
} from './reconciler.ts';
import { checkSidecars, httpSidecarAsker, type AskSidecar, type HttpSidecarAsker } from './sidecar-sync.ts';
import { RECONCILE_TIMEOUT } from './reconcile-settings.ts';
import { DEFAULT_VERIFY_POLICY, type VerifyPolicy } from './verify-policy.ts';
import { WorkQueue } from './work-queue.ts';
import { WriteMemo } from './write-memo.ts';

export interface ControllerDeps {
  readonly api: KubeApi;
  readonly logger: Logger;
  readonly timers: Timers;
  readonly clock: Clock;
  readonly random: Random;
  readonly identity: string;
  /** The namespaces to serve (undefined: all, which needs cluster-wide RBAC). */
  readonly namespaces: readonly string[] | undefined;
  readonly workers?: number;
  readonly endpointCoalesceMs?: number;
  /** Sidecar injection: the version injected, for status.injection. */
  readonly sidecarVersion?: string;
  readonly informerTuning?: {
    watchTimeoutSeconds?: number;
    inactivityMs?: number;
    relistMs?: number;
    backoffBaseMs?: number;
    backoffMaxMs?: number;
  };
  /** When to ask a pool's sidecars again (synced: every 30 s; lagging: 1 s backing off to 30 s). */
  readonly verifyPolicy?: VerifyPolicy;
  /** A lower sidecar_count is rendered once observed this long (default 60 s). */
  readonly sidecarCountStabilizationMs?: number;
  /** Sidecar /lb/config requests in flight per reconcile (x workers overall), and their timeout. */
  readonly sidecarConcurrency?: number;
  readonly sidecarTimeoutMs?: number;
  readonly askSidecar?: AskSidecar;
  /** Deadline of one reconcile (default RECONCILE_TIMEOUT). */
  readonly reconcileTimeoutMs?: number;
}

/** Before the first term, and between terms: leader-only writes fail at once. */
const NOT_LEADING = AbortSignal.abort(new Error('not the leader'));

type Pod = CachedPod;
type ConfigMap = CachedConfigMap;

export class Controller {
  readonly queue: WorkQueue;
  /** Events are aggregated per (pool, type, reason) and written off the reconcile path. */
  readonly events: EventRecorder;
  readonly #deps: ControllerDeps;
  /** Connections to the sidecars (unless the deps bring their own way to ask). */
  readonly #http: HttpSidecarAsker | undefined;
  readonly #ask: AskSidecar;
  readonly #pools: InformerSet<RerankerPool & KubeObject>;
  readonly #slices: InformerSet<EndpointSlice & KubeObject>;
  readonly #services: InformerSet<KubeObject>;
  readonly #configMaps: InformerSet<ConfigMap>;
  readonly #pods: InformerSet<Pod>;
  readonly #written = {
    config: new WriteMemo<string | undefined>(),
    status: new WriteMemo<PoolStatus | undefined>(),
    canaryPlan: new WriteMemo<string | undefined>(),
  };
  /** Consecutive lagging verifications per pool (the verify backoff's exponent). */
  readonly #lagStreak = new Map<string, number>();
  #metrics: OperatorMetrics | undefined;
  /** The API bound to the current leadership term (Events are written through it). */
  #termApi: KubeApi;
  #workers = 0;
  #stopped = false;

  constructor(deps: ControllerDeps) {
    this.#deps = deps;
    if (deps.askSidecar === undefined) this.#http = httpSidecarAsker(deps.sidecarTimeoutMs ?? 1000);
    this.#ask = deps.askSidecar ?? this.#http!.ask;
    this.#termApi = deps.api.bound(NOT_LEADING);
    const termApi = { request: <T>(...args: Parameters<KubeApi['request']>) => this.#termApi.request<T>(...args) };
    this.events = new EventRecorder({
      api: termApi,
      clock: deps.clock,
      timers: deps.timers,
      logger: deps.logger,
      component: 'reranker-lb-operator',
      instance: deps.identity,
    });
    this.queue = new WorkQueue(deps.timers, {
      baseDelayMs: 50,
      maxDelayMs: 60_000,
      now: () => deps.clock.now(),
      observer: queueObserver(() => this.#metrics),
    });
    // /api/v1/pods -> /api/v1/namespaces/<ns>/pods; /apis/<group>/<version>/<plural> likewise.
    const scope = (path: string, ns: string | undefined) => {
      if (ns === undefined) return path;
      const cut = path.lastIndexOf('/');
      return `${path.slice(0, cut)}/namespaces/${ns}${path.slice(cut)}`;
    };
    const namespaces: readonly (string | undefined)[] = deps.namespaces ?? [undefined];
    const make = <T extends KubeObject>(
      name: string,
      path: string,
      onEvent: (e: InformerEvent, o: T, prev: T | undefined) => void,
      labelSelector: string | undefined,
      transform: (o: T) => T,
    ) =>
      new InformerSet<T>(
        namespaces.map(
          (ns) =>
            new Informer<T>(deps.api, {
              name,
              path: scope(path, ns),
              labelSelector,
              onEvent,
              transform,
              onRestart: () => this.#metrics?.watchRestarts.labels(name).inc(),
              logger: deps.logger,
              timers: deps.timers,
              clock: deps.clock,
              random: deps.random,
              ...deps.informerTuning,
            }),
        ),
      );
    const coalesce = (keys: readonly string[]) => {
      for (const key of keys) this.queue.addAfter(key, deps.endpointCoalesceMs ?? 100);
    };
    this.#pools = make<RerankerPool & KubeObject>(
      'rerankerpools',
      `/apis/${GROUP}/${VERSION}/${PLURAL}`,
      (event, pool, previous) => {
        // Status-only updates (our own writes) do not need another reconcile.
        if (event === 'updated' && previous?.metadata.generation === pool.metadata.generation) return;
        this.queue.add(keyOf(pool));
      },
      undefined,
      slim,
    );
    this.#slices = make<EndpointSlice & KubeObject>(
      'endpointslices',
      '/apis/discovery.k8s.io/v1/endpointslices',
      (_e, slice) =>
        coalesce(
          poolsForService(this.#pools.list(), slice.metadata.namespace, slice.metadata.labels?.[SERVICE_NAME_LABEL]),
        ),
      SERVICE_NAME_LABEL,
      slim,
    );
    this.#services = make<KubeObject>(
      'services',
      '/api/v1/services',
      (_e, svc) => coalesce(poolsForService(this.#pools.list(), svc.metadata.namespace, svc.metadata.name)),
      undefined,
      slim,
    );
    this.#configMaps = make<ConfigMap>(
      'configmaps',
      '/api/v1/configmaps',
      (event, cm) => {
        const pool = cm.metadata.labels?.[POOL_LABEL];
        if (pool === undefined || cm.metadata.namespace === undefined) return;
        const key = `${cm.metadata.namespace}/${pool}`;
        const status = this.#pools.get(key)?.status?.configHash;
        if (configMapNeedsReconcile(event, cm, status, this.#written.config.pending(key))) this.queue.add(key);
      },
      `app.kubernetes.io/managed-by=${MANAGED_BY['app.kubernetes.io/managed-by']}`,
      slimConfigMap,
    );
    // A pod matters only to the pools whose sidecarSelector selects it (before or after).
    this.#pods = make<Pod>(
      'pods',
      '/api/v1/pods',
      (event, pod, previous) =>
        coalesce(poolsForPod(this.#pools.list(), pod, event === 'updated' ? previous : undefined)),
      `${SIDECAR_LABEL}=true`,
      slimPod,
    );
  }

  /** Every informer by resource name (metrics, readiness). */
  get informers(): Readonly<
    Record<
      string,
      { readonly synced: boolean; readonly restarts: number; start(): void; stop(): void; waitForSync(): Promise<void> }
    >
  > {
    return {
      rerankerpools: this.#pools,
      endpointslices: this.#slices,
      services: this.#services,
      configmaps: this.#configMaps,
      pods: this.#pods,
    };
  }

  caches(): Caches {
    return {
      pool: (key) => this.#pools.get(key),
      slices: (ns) => this.#slices.list().filter((s) => s.metadata.namespace === ns),
      serviceExists: (ns, name) => this.#services.has(`${ns}/${name}`),
      configMap: (ns, name) => this.#configMaps.get(`${ns}/${name}`),
      sidecarPods: (ns) => this.#pods.list().filter((p) => p.metadata.namespace === ns),
    };
  }

  get synced(): boolean {
    return Object.values(this.informers).every((inf) => inf.synced);
  }

  start(metrics: OperatorMetrics): void {
    this.#metrics = metrics;
    for (const informer of Object.values(this.informers)) informer.start();
  }

  /** Reconcile workers running now (the leader's; 0 on a standby and after a term ended). */
  get workers(): number {
    return this.#workers;
  }

  /**
   * A leadership term begins: workers start after the caches are synced and run until `term`
   * aborts. Every write of the term (reconciles, Events) goes through an API bound to it.
   */
  async startLeading(term: AbortSignal): Promise<void> {
    if (term.aborted || this.#stopped) return;
    this.#termApi = this.#deps.api.bound(term);
    const ended = new Promise<void>((resolve) => term.addEventListener('abort', () => resolve(), { once: true }));
    await Promise.race([Promise.all(Object.values(this.informers).map((inf) => inf.waitForSync())), ended]);
    if (term.aborted || this.#stopped) return;
    for (const pool of this.#pools.list()) this.queue.add(keyOf(pool));
    for (let w = 0; w < (this.#deps.workers ?? 2); w++) void this.#worker(term);
  }

  #reconcileDeps(signal: AbortSignal): ReconcilerDeps {
    const d = this.#deps;
    return {
      api: d.api.bound(signal),
      caches: this.caches(),
      logger: d.logger,
      now: () => new Date(d.clock.wallNow()).toISOString().replace(/\.\d{3}Z$/, 'Z'),
      event: (pool, type, reason, message) =>
        this.events.record(
          {
            apiVersion: `${GROUP}/${VERSION}`,
            kind: KIND,
            name: pool.metadata.name,
            namespace: pool.metadata.namespace,
            uid: pool.metadata.uid,
          },
          type,
          reason,
          message,
        ),
      askSidecars: (pods, port, wanted, endpoints) =>
        checkSidecars(pods, port, wanted, {
          ask: this.#ask,
          now: () => d.clock.now(),
          concurrency: d.sidecarConcurrency ?? 8,
          timeoutMs: d.sidecarTimeoutMs ?? 1000,
          endpoints,
        }),
      written: this.#written,
      sidecarVersion: d.sidecarVersion,
      requeue: { policy: d.verifyPolicy ?? DEFAULT_VERIFY_POLICY, random: d.random, lagStreaks: this.#lagStreak },
      sidecarCountStabilizationMs: d.sidecarCountStabilizationMs,
    };
  }

  async #worker(term: AbortSignal): Promise<void> {
    this.#workers++;
    this.#metrics?.workers.inc();
    try {
      while (!term.aborted && !this.#stopped) {
        const key = await this.queue.get(term);
        if (key === undefined) return;
        await this.#reconcile(key, term);
      }
    } finally {
      this.#workers--;
      this.#metrics?.workers.dec();
    }
  }

  /** One reconcile under its deadline, itself under the term; the reconciler says when to come back. */
  async #reconcile(key: string, term: AbortSignal): Promise<void> {
    const timeoutMs = this.#deps.reconcileTimeoutMs ?? RECONCILE_TIMEOUT.defaultSeconds * 1000;
    const bound = deadline(this.#deps.timers, timeoutMs, `reconcile ${key}`, term);
    const started = this.#deps.clock.now();
    try {
      const result = await reconcilePool(key, this.#reconcileDeps(bound.signal));
      this.queue.forget(key);
      this.#metrics?.reconciles.labels('success').inc();
      if (result.requeueAfterMs !== undefined) this.queue.addAfter(key, result.requeueAfterMs);
    } catch (error) {
      if (term.aborted) {
        this.#deps.logger.warn({ pool: key }, 'reconcile cancelled: the leadership term ended');
        return;
      }
      // A 429 (API priority and fairness) says when to come back.
      const retryAfterMs =
        error instanceof KubeApiError && error.retryAfterSeconds !== undefined ? error.retryAfterSeconds * 1000 : 0;
      const retryIn = this.queue.addRateLimited(key, retryAfterMs);
      this.#metrics?.reconciles.labels('error').inc();
      this.#deps.logger.error({ pool: key, err: (error as Error).message, retry_in_ms: retryIn }, 'reconcile failed');
    } finally {
      bound.clear();
      this.#metrics?.reconcileSeconds.observe((this.#deps.clock.now() - started) / 1000);
      this.queue.done(key);
    }
  }

  stop(): void {
    this.#stopped = true;
    this.queue.shutDown();
    this.events.stop();
    for (const informer of Object.values(this.informers)) informer.stop();
    void this.#http?.close();
  }
}
