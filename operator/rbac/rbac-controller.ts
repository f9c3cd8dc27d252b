/**
 * Keeps each pool's sidecar Role and RoleBinding in step with the pods injected for it. Its own
 * pod informer (label reranker.dev/pool, and the reranker.dev/sidecar label the webhook sets)
 * runs on every replica; only the leader reconciles, under its leadership term's signal (each
 * reconcile also under a deadline). Writes happen only when the grants differ.
 */
import type { Logger } from 'pino';
import type { KubeApi, KubeObject } from '../../kube/api.ts';
import { Informer } from '../../kube/informer.ts';
import { InformerSet } from '../../kube/informer-set.ts';
import type { Clock, Random, Timers } from '../../common/clock.ts';
import { deadline } from '../../common/deadline.ts';
import { RECONCILE_TIMEOUT } from '../controller/reconcile-settings.ts';
import { GROUP, PLURAL, VERSION } from '../crd/pool-schema.ts';
import { slimMetadata } from '../controller/cache-transforms.ts';
import { WorkQueue } from '../controller/work-queue.ts';
import { POOL_LABEL, SIDECAR_LABEL } from '../crd/labels.ts';
import {
  desiredRole,
  desiredRoleBinding,
  grantsMatch,
  injectedServiceAccounts,
  sidecarRbacName,
  type InjectedPodLike,
  type RbacObject,
} from './sidecar-rbac.ts';

const FIELD_MANAGER = 'reranker-lb-operator';

export interface RbacControllerDeps {
  readonly api: KubeApi;
  readonly logger: Logger;
  readonly timers: Timers;
  readonly clock: Clock;
  readonly random: Random;
  readonly namespaces: readonly string[] | undefined;
  /** Deadline of one reconcile (default RECONCILE_TIMEOUT). */
  readonly reconcileTimeoutMs?: number;
}

type Pod = KubeObject & InjectedPodLike;

export class RbacController {
  readonly #deps: RbacControllerDeps;
  readonly #queue: WorkQueue;
  readonly pods: InformerSet<Pod>;
  #term: AbortSignal | undefined;

  constructor(deps: RbacControllerDeps) {
    this.#deps = deps;
    this.#queue = new WorkQueue(deps.timers, { baseDelayMs: 100, maxDelayMs: 60_000 });
    const path = (ns: string | undefined) => (ns === undefined ? '/api/v1/pods' : `/api/v1/namespaces/${ns}/pods`);
    this.pods = new InformerSet<Pod>(
      (deps.namespaces ?? [undefined]).map(
        (ns) =>
          new Informer<Pod>(deps.api, {
            name: 'injected-pods',
            path: path(ns),
            labelSelector: `${POOL_LABEL},${SIDECAR_LABEL}=true`,
            onEvent: (_e, pod) => this.#enqueue(pod),
            // Only what the grants are computed from stays in the cache.
            transform: (pod) => ({
              metadata: slimMetadata(pod.metadata),
              spec: { serviceAccountName: pod.spec?.serviceAccountName },
            }),
            logger: deps.logger,
            timers: deps.timers,
            clock: deps.clock,
            random: deps.random,
          }),
      ),
    );
  }

  #enqueue(pod: Pod): void {
    const pool = pod.metadata.labels?.[POOL_LABEL];
    if (pool !== undefined && pod.metadata.namespace !== undefined && this.#term?.aborted === false)
      this.#queue.addAfter(`${pod.metadata.namespace}/${pool}`, 50);
  }

  start(): void {
    this.pods.start();
  }

  /** A leadership term: the worker runs until `term` aborts. */
  async startLeading(term: AbortSignal): Promise<void> {
    if (term.aborted) return;
    this.#term = term;
    const ended = new Promise<void>((resolve) => term.addEventListener('abort', () => resolve(), { once: true }));
    await Promise.race([this.pods.waitForSync(), ended]);
    if (term.aborted) return;
    for (const pod of this.pods.list()) this.#enqueue(pod);
    void this.#worker(term);
  }

  stop(): void {
    this.#queue.shutDown();
    this.pods.stop();
  }

  async #worker(term: AbortSignal): Promise<void> {
    while (!term.aborted) {
      const key = await this.#queue.get(term);
      if (key === undefined) return;
      const bound = deadline(
        this.#deps.timers,
        this.#deps.reconcileTimeoutMs ?? RECONCILE_TIMEOUT.defaultSeconds * 1000,
        `sidecar RBAC reconcile ${key}`,
        term,
      );
      try {
        await this.reconcile(key, bound.signal);
        this.#queue.forget(key);
      } catch (error) {
        if (term.aborted) return;
        const retryIn = this.#queue.addRateLimited(key);
        this.#deps.logger.error(
          { pool: key, err: (error as Error).message, retry_in_ms: retryIn },
          'sidecar RBAC reconcile failed',
        );
      } finally {
        bound.clear();
        this.#queue.done(key);
      }
    }
  }

  /** `namespace/pool`: the Role and RoleBinding its injected pods need; every call runs under `signal`. */
  async reconcile(key: string, signal?: AbortSignal): Promise<void> {
    const [namespace, name] = key.split('/') as [string, string];
    const logger = this.#deps.logger;
    const api = signal === undefined ? this.#deps.api : this.#deps.api.bound(signal);
    const pool = await api.get<KubeObject>(`/apis/${GROUP}/${VERSION}/namespaces/${namespace}/${PLURAL}/${name}`);
    if (pool?.metadata.uid === undefined || pool.metadata.deletionTimestamp !== undefined) return; // gone: owner references clean up
    const ref = { name, namespace, uid: pool.metadata.uid };
    const accounts = injectedServiceAccounts(ref, this.pods.list());
    const base = `/apis/rbac.authorization.k8s.io/v1/namespaces/${namespace}`;
    const rbacName = sidecarRbacName(name);
    const storedBinding = await api.get<RbacObject>(`${base}/rolebindings/${rbacName}`);
    if (storedBinding === undefined && accounts.length === 0) return; // injection never used for this pool
    const role = desiredRole(ref);
    if (!grantsMatch(await api.get<RbacObject>(`${base}/roles/${rbacName}`), role)) {
      await api.apply(`${base}/roles/${rbacName}`, role, FIELD_MANAGER);
      logger.info({ pool: key, role: rbacName }, 'sidecar Role applied');
    }
    const binding = desiredRoleBinding(ref, accounts);
    if (!grantsMatch(storedBinding, binding)) {
      await api.apply(`${base}/rolebindings/${rbacName}`, binding, FIELD_MANAGER);
      logger.info({ pool: key, role_binding: rbacName, service_accounts: accounts }, 'sidecar RoleBinding applied');
    }
  }
}
