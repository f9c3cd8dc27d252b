/**
 * One reconcile of one pool: gather (from the informers' caches) -> render (pure) -> check it fits
 * a ConfigMap -> apply the ConfigMap (server-side apply, only when its content differs from what
 * is in place or what we last wrote) -> ask the sidecars -> compute the status (pure) -> apply
 * our part of /status only if it differs from what is stored or what we last wrote. Returns what
 * the sidecars said, so the controller can decide when to verify them again.
 */
import type { Logger } from 'pino';
import type { KubeApi, KubeObject } from '../../kube/api.ts';
import { formatIssues, issueMessage } from '../../common/issues.ts';
import { CONFIG_HASH_ANNOTATION, POOL_LABEL } from '../crd/labels.ts';
import { upgradeLegacySpec } from '../crd/legacy-spec.ts';
import { secretEnvConflicts } from '../render/secret-env.ts';
import {
  poolSpecSchema,
  GROUP,
  KIND,
  PLURAL,
  VERSION,
  type LabelSelector,
  type PoolSpec,
  type PoolStatus,
  type RerankerPool,
} from '../crd/pool-schema.ts';
import { configSizeProblem } from '../render/config-size.ts';
import { discoverEndpoints, slicesDigest, type EndpointSlice } from '../../common/discovery/endpoint-slices.ts';
import { CONFIG_KEY, configMapNameOf, renderConfig, type RenderedConfig } from '../render/render-config.ts';
import { computeStatus, warningsFor, type RenderFailure } from '../status/conditions.ts';
import { holdsOwn, strayFields } from '../status/owned.ts';
import type { CachedConfigMap, CachedPod } from './cache-transforms.ts';
import { selectsSidecar } from './event-routing.ts';
import type { SidecarPod, SyncReport } from './sidecar-sync.ts';
import { nextVerification, type SidecarState, type VerifyPolicy } from './verify-policy.ts';
import type { Random } from '../../common/clock.ts';
import type { WriteMemo } from './write-memo.ts';
import { injectionStatus } from '../status/injection.ts';
import { syncCanaryPlan } from '../canary/plan-sync.ts';
import { countSidecars, DEFAULT_STABILIZATION_MS, nextSidecarCount } from '../status/sidecar-count.ts';

const FIELD_MANAGER = 'reranker-lb-operator';
export const MANAGED_BY = { 'app.kubernetes.io/managed-by': 'reranker-lb-operator' } as const;
export { POOL_LABEL, SIDECAR_LABEL } from '../crd/labels.ts';

export interface Caches {
  pool(key: string): RerankerPool | undefined;
  slices(namespace: string): EndpointSlice[];
  serviceExists(namespace: string, name: string): boolean;
  configMap(namespace: string, name: string): CachedConfigMap | undefined;
  sidecarPods(namespace: string): CachedPod[];
}

/** Records an Event on a pool; never blocks the reconcile. */
export type RecordEvent = (pool: RerankerPool, type: 'Normal' | 'Warning', reason: string, message: string) => void;

export interface ReconcilerDeps {
  readonly api: Pick<KubeApi, 'apply' | 'mergePatch'>;
  readonly caches: Caches;
  readonly logger: Logger;
  readonly now: () => string;
  readonly event: RecordEvent;
  /** Asks the pods which config they serve (sidecar-sync.ts, with its timeout and concurrency cap). */
  readonly askSidecars: (
    pods: readonly SidecarPod[],
    port: number,
    wanted: string,
    endpoints?: string,
  ) => Promise<SyncReport>;
  /** What this operator last wrote, per pool key: the ConfigMap's hash and the status. */
  readonly written: {
    readonly config: WriteMemo<string | undefined>;
    readonly status: WriteMemo<PoolStatus | undefined>;
    readonly canaryPlan?: WriteMemo<string | undefined>;
  };
  /** Sidecar injection: the version the operator injects; undefined: injection off. */
  readonly sidecarVersion?: string;
  /** When to look again: the verify policy, its jitter, and each pool's streak of lagging verifications. */
  readonly requeue: {
    readonly policy: VerifyPolicy;
    readonly random: Random;
    readonly lagStreaks: Map<string, number>;
  };
  /** A lower sidecar_count is rendered once observed this long (default 60 s). */
  readonly sidecarCountStabilizationMs?: number;
}

export interface ReconcileResult {
  readonly sidecars: SidecarState;
  /** Reconcile this pool again after this long (sidecars to verify again); undefined: only on an event. */
  readonly requeueAfterMs: number | undefined;
}

/** The sidecars' state -> when to ask them again (backing off while they lag). */
function resultOf(key: string, sidecars: SidecarState, deps: Pick<ReconcilerDeps, 'requeue'>): ReconcileResult {
  const { policy, random, lagStreaks } = deps.requeue;
  const next = nextVerification(sidecars, lagStreaks.get(key) ?? 0, policy, random);
  if (next.lagStreak === 0) lagStreaks.delete(key);
  else lagStreaks.set(key, next.lagStreak);
  return { sidecars, requeueAfterMs: next.delayMs };
}

interface Rendering {
  readonly spec: PoolSpec | undefined;
  readonly rendered: RenderedConfig | undefined;
  readonly failure: RenderFailure | undefined;
  readonly missingServices: string[];
  /** Fields read in the CRD's old units (`spec.routing.retryDelay: 0.2 -> "200ms"`). */
  readonly upgraded: string[];
}

function render(pool: RerankerPool, caches: Caches, ns: string, sidecarCount: number | undefined): Rendering {
  const { spec: current, upgraded } = upgradeLegacySpec(pool.spec);
  const parsed = poolSpecSchema.safeParse(current, { error: issueMessage, reportInput: true });
  if (!parsed.success) {
    return {
      spec: undefined,
      rendered: undefined,
      missingServices: [],
      upgraded,
      failure: {
        reason: 'InvalidSpec',
        message: formatIssues(parsed.error)
          .map((p) => `spec.${p}`)
          .join('; '),
      },
    };
  }
  // The operator keeps sidecar_count from the pods it sees; the spec's value stands until it sees one.
  const spec =
    sidecarCount === undefined ? parsed.data : { ...parsed.data, routing: { ...parsed.data.routing, sidecarCount } };
  const conflicts = secretEnvConflicts(spec);
  if (conflicts.length > 0)
    return {
      spec: undefined,
      rendered: undefined,
      missingServices: [],
      upgraded,
      failure: { reason: 'InvalidSpec', message: conflicts.map((p) => `spec.${p}`).join('; ') },
    };
  const slices = caches.slices(ns);
  const missingServices = spec.discovery.filter((d) => !caches.serviceExists(ns, d.service)).map((d) => d.service);
  const rendered = renderConfig(
    { ...pool, spec },
    spec.discovery.map((entry) => ({ entry, endpoints: discoverEndpoints(entry, slices) })),
  );
  const tooLarge = configSizeProblem(rendered);
  return tooLarge === undefined
    ? { spec, rendered, failure: undefined, missingServices, upgraded }
    : { spec, rendered: undefined, failure: tooLarge, missingServices, upgraded };
}

/** The digest sidecars that merge endpoints themselves should report: the operator's own view of the slices. */
function wantedEndpoints(spec: PoolSpec, slices: readonly EndpointSlice[]): string | undefined {
  if (spec.discovery.length === 0 || (spec.routing.discoveryMode ?? 'sidecar') !== 'sidecar') return undefined;
  return slicesDigest(
    spec.discovery.map((d) => d.service),
    slices,
  );
}

function configMapOf(pool: RerankerPool, cmName: string, rendered: RenderedConfig): unknown {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name: cmName,
      namespace: pool.metadata.namespace,
      labels: { ...MANAGED_BY, [POOL_LABEL]: pool.metadata.name },
      annotations: { [CONFIG_HASH_ANNOTATION]: rendered.hash },
      ownerReferences: [
        {
          apiVersion: `${GROUP}/${VERSION}`,
          kind: KIND,
          name: pool.metadata.name,
          uid: pool.metadata.uid,
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    },
    data: { [CONFIG_KEY]: rendered.text },
  };
}

/**
 * Server-side apply of our status alone (forced, as FIELD_MANAGER): other managers' conditions
 * stay, and a field we stop setting goes. One that an older, merge-patching operator co-owns
 * (upgraded clusters) would stay, so it is removed by a merge patch; no other write needs one.
 */
async function writeStatus(
  deps: Pick<ReconcilerDeps, 'api' | 'logger'>,
  key: string,
  pool: RerankerPool,
  status: PoolStatus,
): Promise<RerankerPool & KubeObject> {
  const path = `/apis/${GROUP}/${VERSION}/namespaces/${pool.metadata.namespace}/${PLURAL}/${pool.metadata.name}/status`;
  const body = {
    apiVersion: `${GROUP}/${VERSION}`,
    kind: KIND,
    metadata: { name: pool.metadata.name, namespace: pool.metadata.namespace },
    status,
  };
  const applied = await deps.api.apply<RerankerPool & KubeObject>(path, body, FIELD_MANAGER);
  const stray = strayFields(applied.status, status);
  if (stray.length === 0) return applied;
  deps.logger.info({ pool: key, fields: stray }, 'status fields another manager co-owns removed');
  return deps.api.mergePatch<RerankerPool & KubeObject>(path, {
    status: Object.fromEntries(stray.map((field) => [field, null])),
  });
}

export async function reconcilePool(key: string, deps: ReconcilerDeps): Promise<ReconcileResult> {
  const pool = deps.caches.pool(key);
  if (pool === undefined || pool.metadata.namespace === undefined) {
    // Deleted: the ConfigMap goes with it (owner reference).
    deps.written.config.forget(key);
    deps.written.status.forget(key);
    deps.written.canaryPlan?.forget(key);
    return resultOf(key, 'none', deps);
  }
  const ns = pool.metadata.namespace;
  const cmName = configMapNameOf(pool.metadata.name);
  const previousStatus = deps.written.status.view(key, pool.metadata.resourceVersion, pool.status);
  const observedSidecars = countSidecars(
    deps.caches.sidecarPods(ns),
    pool.metadata.name,
    (pool.spec as { sidecarSelector?: LabelSelector } | undefined)?.sidecarSelector,
  );
  const sidecarCount = nextSidecarCount(
    previousStatus?.sidecarCount,
    observedSidecars,
    Date.parse(deps.now()),
    deps.sidecarCountStabilizationMs ?? DEFAULT_STABILIZATION_MS,
  );
  const { spec, rendered, failure, missingServices, upgraded } = render(pool, deps.caches, ns, sidecarCount?.rendered);

  // Apply the ConfigMap when its content differs from what is in place (or what we just wrote).
  const current = deps.caches.configMap(ns, cmName);
  const inPlace = deps.written.config.view(key, current?.metadata.resourceVersion, current?.dataHash);
  const justRendered = rendered !== undefined && inPlace !== rendered.hash;
  if (rendered !== undefined && inPlace !== rendered.hash) {
    const applied = await deps.api.apply<KubeObject>(
      `/api/v1/namespaces/${ns}/configmaps/${cmName}`,
      configMapOf(pool, cmName, rendered),
      FIELD_MANAGER,
    );
    deps.written.config.remember(
      key,
      current?.metadata.resourceVersion,
      applied.metadata.resourceVersion,
      rendered.hash,
    );
    deps.logger.info({ pool: key, hash: rendered.hash, backends: rendered.readyCount }, 'config rendered');
    deps.event(
      pool,
      'Normal',
      'Rendered',
      `rendered ConfigMap ${cmName} (config ${rendered.hash.slice(0, 12)}, ${rendered.readyCount} ready backend(s))`,
    );
    if (upgraded.length > 0)
      deps.event(
        pool,
        'Warning',
        'DeprecatedUnits',
        `read in the CRD's former units (numbers of seconds, number fractions); write them as today's: ${upgraded.join('; ')}`,
      );
  } else if (failure !== undefined) {
    const was = previousStatus?.conditions?.find((c) => c.type === 'ConfigRendered');
    if (was?.status !== 'False' || was.reason !== failure.reason) {
      deps.logger.warn({ pool: key, reason: failure.reason }, 'config not rendered');
      deps.event(pool, 'Warning', failure.reason === 'InvalidSpec' ? 'RenderFailed' : failure.reason, failure.message);
    }
  }
  const appliedHash = rendered?.hash ?? inPlace;

  // Ask the sidecars which config they serve and, where they merge endpoints themselves, which.
  const endpointsDigest = spec === undefined ? undefined : wantedEndpoints(spec, deps.caches.slices(ns));
  const selector = spec?.sidecarSelector;
  let sidecars: SyncReport | undefined;
  let pods: SidecarPod[] = [];
  if (spec !== undefined && selector !== undefined) {
    pods = deps.caches
      .sidecarPods(ns)
      .filter(
        (p) =>
          p.metadata.deletionTimestamp === undefined &&
          p.status?.podIP !== undefined &&
          selectsSidecar(selector, pool.metadata.name, p.metadata.labels),
      )
      .map((p) => ({ name: p.metadata.name, ip: p.status!.podIP! }));
    sidecars =
      appliedHash === undefined
        ? { total: pods.length, synced: 0, differing: [], inconsistent: [] }
        : await deps.askSidecars(pods, spec.sidecarPort, appliedHash, endpointsDigest);
  }
  // One canary per pool: which sidecar runs it, and its verdicts for the others.
  const plans = deps.written.canaryPlan;
  if (spec !== undefined && plans !== undefined) {
    const canary = (spec.routing as { canary?: { interval?: unknown } }).canary;
    await syncCanaryPlan(
      { api: deps.api, configMap: deps.caches.configMap, memo: plans, fieldManager: FIELD_MANAGER, labels: MANAGED_BY },
      pool,
      {
        interval: canary?.interval,
        configMapName: cmName,
        pods: pods.map((p) => p.name),
        rounds: sidecars?.runnerRounds,
      },
    );
  }

  // Status (our part of it), written once and only when it changed.
  const injection =
    deps.sidecarVersion === undefined
      ? undefined
      : injectionStatus(deps.caches.sidecarPods(ns), { name: pool.metadata.name, namespace: ns }, deps.sidecarVersion);
  const status = computeStatus(
    previousStatus,
    {
      generation: pool.metadata.generation ?? 0,
      configMapName: cmName,
      rendered,
      renderFailure: failure,
      appliedHash,
      missingServices,
      sidecars,
      injection,
      endpointsDigest,
      sidecarCount,
    },
    deps.now(),
  );
  if (!holdsOwn(previousStatus, status)) {
    for (const w of warningsFor(previousStatus, status, justRendered)) deps.event(pool, 'Warning', w.reason, w.message);
    const written = await writeStatus(deps, key, pool, status);
    deps.written.status.remember(key, pool.metadata.resourceVersion, written.metadata.resourceVersion, written.status);
  }
  // A lower sidecar_count waits out its stabilization window: come back when it has.
  const lowering =
    sidecarCount?.loweringSince === undefined
      ? undefined
      : Math.max(
          1000,
          Date.parse(sidecarCount.loweringSince) +
            (deps.sidecarCountStabilizationMs ?? DEFAULT_STABILIZATION_MS) -
            Date.parse(deps.now()),
        );
  const endpointsLag = sidecars?.endpoints !== undefined && sidecars.endpoints.synced < sidecars.total;
  const result = resultOf(
    key,
    sidecars === undefined || sidecars.total === 0
      ? 'none'
      : sidecars.synced === sidecars.total && !endpointsLag
        ? 'synced'
        : 'lagging',
    deps,
  );
  if (lowering === undefined) return result;
  return {
    sidecars: result.sidecars,
    requeueAfterMs: Math.min(result.requeueAfterMs ?? Number.POSITIVE_INFINITY, lowering),
  };
}
