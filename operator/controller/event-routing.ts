/**
 * Pure: which pools an informer event concerns. A pod matters only to the pools whose
 * sidecarSelector selects it (before or after the change), and only when something the
 * reconcile reads changed; a Service or its EndpointSlices only to the pools that discover it.
 */
import type { KubeObject } from '../../kube/api.ts';
import { CONFIG_HASH_ANNOTATION, POOL_LABEL } from '../crd/labels.ts';
import type { CachedConfigMap } from './cache-transforms.ts';
import type { LabelSelector } from '../crd/pool-schema.ts';

export interface RoutablePool extends KubeObject {
  spec?: { sidecarSelector?: LabelSelector; discovery?: readonly { service: string }[] };
}

export interface RoutablePod extends KubeObject {
  status?: { podIP?: string; phase?: string };
}

/** A Kubernetes label selector's verdict: every matchLabels pair and every matchExpression holds (an empty selector selects all; none selects nothing). */
export function selects(selector: LabelSelector | undefined, labels: Record<string, string> | undefined): boolean {
  if (selector === undefined) return false;
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) if (labels?.[key] !== value) return false;
  for (const { key, operator, values = [] } of selector.matchExpressions ?? []) {
    const value = labels?.[key];
    const holds =
      operator === 'In'
        ? value !== undefined && values.includes(value)
        : operator === 'NotIn'
          ? value === undefined || !values.includes(value)
          : operator === 'Exists'
            ? value !== undefined
            : value === undefined;
    if (!holds) return false;
  }
  return true;
}

/** A pool's sidecar: selected, and not injected for another pool (a broad selector must not count another pool's sidecars). */
export function selectsSidecar(
  selector: LabelSelector | undefined,
  pool: string,
  labels: Record<string, string> | undefined,
): boolean {
  const injectedFor = labels?.[POOL_LABEL];
  return (injectedFor === undefined || injectedFor === pool) && selects(selector, labels);
}

/** What the reconcile reads from a pod: labels (selection), IP (where to ask), deletion and phase. */
function podChangeMatters(pod: RoutablePod, previous: RoutablePod | undefined): boolean {
  if (previous === undefined) return true;
  const view = (p: RoutablePod) =>
    JSON.stringify([
      p.metadata.labels ?? {},
      p.status?.podIP,
      p.status?.phase,
      p.metadata.deletionTimestamp !== undefined,
    ]);
  return view(pod) !== view(previous);
}

/** Keys of the pools in the pod's namespace that select the pod, or selected it before the change. */
export function poolsForPod(
  pools: readonly RoutablePool[],
  pod: RoutablePod,
  previous: RoutablePod | undefined,
): string[] {
  if (!podChangeMatters(pod, previous)) return [];
  const ns = pod.metadata.namespace;
  return pools
    .filter((pool) => {
      if (pool.metadata.namespace !== ns) return false;
      const selector = pool.spec?.sidecarSelector;
      // Sidecar injection: an injected pod names its pool, whose status.injection counts it.
      if (pod.metadata.labels?.[POOL_LABEL] === pool.metadata.name) return true;
      return (
        selects(selector, pod.metadata.labels) ||
        (previous !== undefined && selects(selector, previous.metadata.labels))
      );
    })
    .map((pool) => `${ns}/${pool.metadata.name}`);
}

/** Keys of the pools in `namespace` that discover `service`. */
export function poolsForService(
  pools: readonly RoutablePool[],
  namespace: string | undefined,
  service: string | undefined,
): string[] {
  if (namespace === undefined || service === undefined) return [];
  return pools
    .filter((pool) => pool.metadata.namespace === namespace && pool.spec?.discovery?.some((d) => d.service === service))
    .map((pool) => `${namespace}/${pool.metadata.name}`);
}

/**
 * Whether a ConfigMap event needs its pool reconciled. Deletions and edits by others (data no
 * longer matching the hash annotation) are repaired. One of ours needs nothing when the pool's
 * status names it or the reconcile that wrote it is still on its way to the status (`pending`);
 * otherwise a reconcile ended between the apply and its status write (a deadline, a dropped
 * connection: the write landed but its answer did not), the status names an older config, and
 * nothing else would bring the pool back.
 */
export function configMapNeedsReconcile(
  event: 'added' | 'updated' | 'deleted',
  cm: CachedConfigMap,
  statusHash: string | undefined,
  pending: string | undefined,
): boolean {
  if (event === 'deleted') return true;
  if (cm.dataHash !== cm.metadata.annotations?.[CONFIG_HASH_ANNOTATION]) return true;
  if (cm.dataHash === undefined) return false; // the canary plan's ConfigMap
  return cm.dataHash !== statusHash && cm.dataHash !== pending;
}
