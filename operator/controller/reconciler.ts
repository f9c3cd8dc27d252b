/**
 * One reconcile of one pool: gather (from the informers' caches) -> render (pure) -> apply the
 * ConfigMap (server-side apply, only when its data differs) -> ask the sidecars -> compute the
 * status (pure) -> patch /status only if it changed. Returns when to look again, if ever.
 */
import type { Logger } from 'pino';
import type { KubeApi, KubeObject } from '../../kube/api.ts';
import { poolSpecSchema, GROUP, KIND, PLURAL, VERSION, type RerankerPool } from '../crd/pool-schema.ts';
import { discoverEndpoints, type EndpointSlice } from '../render/discovery.ts';
import { CONFIG_KEY, configMapNameOf, renderConfig, type RenderedConfig } from '../render/render-config.ts';
import { computeStatus, sameStatus } from '../status/conditions.ts';
import { formatIssues } from '../../common/issues.ts';
import { checkSidecars, type SidecarPod } from './sidecar-sync.ts';

export const FIELD_MANAGER = 'reranker-lb-operator';
export const MANAGED_BY = { 'app.kubernetes.io/managed-by': 'reranker-lb-operator' } as const;
export const POOL_LABEL = 'reranker.dev/pool';
/** Pods that run a sidecar carry this label (it bounds the operator's pod watch). */
export const SIDECAR_LABEL = 'reranker.dev/sidecar';

export interface Caches {
  pool(key: string): RerankerPool | undefined;
  slices(namespace: string): EndpointSlice[];
  serviceExists(namespace: string, name: string): boolean;
  configMap(namespace: string, name: string): (KubeObject & { data?: Record<string, string> }) | undefined;
  sidecarPods(namespace: string): (KubeObject & { status?: { podIP?: string; phase?: string } })[];
}

export interface ReconcilerDeps {
  readonly api: KubeApi;
  readonly caches: Caches;
  readonly logger: Logger;
  readonly now: () => string;
  readonly event: (pool: RerankerPool, type: 'Normal' | 'Warning', reason: string, message: string) => Promise<void>;
  readonly sidecarTimeoutMs?: number;
}

export interface ReconcileResult {
  readonly requeueAfterMs: number | undefined;
}

function matches(labels: Record<string, string> | undefined, selector: Record<string, string> | undefined): boolean {
  if (selector === undefined) return false;
  return Object.entries(selector).every(([k, v]) => labels?.[k] === v);
}

export async function reconcilePool(key: string, deps: ReconcilerDeps): Promise<ReconcileResult> {
  const pool = deps.caches.pool(key);
  if (pool === undefined || pool.metadata.namespace === undefined) return { requeueAfterMs: undefined }; // deleted: the ConfigMap goes with it (owner reference)
  const ns = pool.metadata.namespace;
  const cmName = configMapNameOf(pool.metadata.name);

  // Gather and render.
  const parsed = poolSpecSchema.safeParse(pool.spec);
  let rendered: RenderedConfig | undefined;
  let renderProblem: string | undefined;
  const missingServices: string[] = [];
  if (!parsed.success) {
    renderProblem = formatIssues(parsed.error).map((p) => `spec.${p}`).join('; ');
  } else {
    const spec = parsed.data;
    const slices = deps.caches.slices(ns);
    for (const d of spec.discovery) if (!deps.caches.serviceExists(ns, d.service)) missingServices.push(d.service);
    rendered = renderConfig({ ...pool, spec }, spec.discovery.map((entry) => ({ entry, endpoints: discoverEndpoints(entry, slices) })));
  }

  // Apply the ConfigMap when its data differs.
  const current = deps.caches.configMap(ns, cmName);
  if (rendered !== undefined && current?.data?.[CONFIG_KEY] !== rendered.text) {
    await deps.api.apply(`/api/v1/namespaces/${ns}/configmaps/${cmName}`, {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: {
        name: cmName,
        namespace: ns,
        labels: { ...MANAGED_BY, [POOL_LABEL]: pool.metadata.name },
        annotations: { 'reranker.dev/config-hash': rendered.hash },
        ownerReferences: [{ apiVersion: `${GROUP}/${VERSION}`, kind: KIND, name: pool.metadata.name, uid: pool.metadata.uid, controller: true, blockOwnerDeletion: true }],
      },
      data: { [CONFIG_KEY]: rendered.text },
    }, FIELD_MANAGER);
    deps.logger.info({ pool: key, hash: rendered.hash, backends: rendered.readyCount }, 'config rendered');
    await deps.event(pool, 'Normal', 'Rendered', `rendered ConfigMap ${cmName} (config ${rendered.hash.slice(0, 12)}, ${rendered.readyCount} ready backend(s))`);
  } else if (rendered === undefined && pool.status?.conditions?.find((c) => c.type === 'ConfigRendered')?.status !== 'False') {
    await deps.event(pool, 'Warning', 'RenderFailed', renderProblem ?? 'the spec could not be rendered');
  }

  // Ask the sidecars.
  const selector = parsed.success ? parsed.data.sidecarSelector?.matchLabels : undefined;
  let sidecars;
  if (selector !== undefined && parsed.success) {
    const pods: SidecarPod[] = deps.caches
      .sidecarPods(ns)
      .filter((p) => p.metadata.deletionTimestamp === undefined && p.status?.podIP !== undefined && matches(p.metadata.labels, selector))
      .map((p) => ({ name: p.metadata.name, ip: p.status!.podIP! }));
    sidecars = rendered === undefined ? { total: pods.length, synced: 0, detail: '' } : await checkSidecars(pods, parsed.data.sidecarPort, rendered.hash, deps.sidecarTimeoutMs);
  }

  // Status, written once and only when it changed.
  const status = computeStatus(pool.status, { generation: pool.metadata.generation ?? 0, configMapName: cmName, rendered, renderProblem, missingServices, sidecars }, deps.now());
  if (!sameStatus(pool.status, status)) {
    await deps.api.mergePatch(`/apis/${GROUP}/${VERSION}/namespaces/${ns}/${PLURAL}/${pool.metadata.name}/status`, { status });
  }
  const syncing = sidecars !== undefined && sidecars.synced < sidecars.total;
  return { requeueAfterMs: syncing ? 1000 : undefined };
}
