/**
 * Pure: a pool + the pods injected for it -> the Role that may read exactly the pool's ConfigMap
 * (and the namespace's EndpointSlices, for discovery) and the RoleBinding to those pods' service accounts. Both are owned by the pool, so the garbage
 * collector removes them with it.
 */
import { GROUP, KIND, VERSION } from '../crd/pool-schema.ts';
import { configMapNameOf } from '../render/render-config.ts';
import { canaryPlanConfigMapName } from '../../common/canary-plan.ts';
import { POOL_LABEL, VERSION_ANNOTATION } from '../crd/labels.ts';

const RBAC_MANAGED_BY = { 'app.kubernetes.io/managed-by': 'reranker-lb-operator' } as const;

export interface PoolRef {
  readonly name: string;
  readonly namespace: string;
  readonly uid: string;
}

export interface InjectedPodLike {
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: { serviceAccountName?: string };
}

export function sidecarRbacName(pool: string): string {
  return `${pool}-reranker-sidecar`;
}

/** Service accounts of the pods the webhook injected for `pool` (sorted, once each). */
export function injectedServiceAccounts(pool: PoolRef, pods: readonly InjectedPodLike[]): string[] {
  const names = new Set<string>();
  for (const pod of pods) {
    if (pod.metadata.namespace !== pool.namespace || pod.metadata.labels?.[POOL_LABEL] !== pool.name) continue;
    if (pod.metadata.annotations?.[VERSION_ANNOTATION] === undefined) continue; // a hand-written sidecar brings its own RBAC
    names.add(pod.spec?.serviceAccountName || 'default');
  }
  return [...names].sort();
}

/** A Role or RoleBinding as the API sends and takes it: plain JSON (kube/ has no typed API). */
// biome-ignore lint/suspicious/noExplicitAny: plain JSON from and to the API server
export type RbacObject = Record<string, any>;

export function desiredRole(pool: PoolRef): RbacObject {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'Role',
    metadata: {
      name: sidecarRbacName(pool.name),
      namespace: pool.namespace,
      labels: { ...RBAC_MANAGED_BY, [POOL_LABEL]: pool.name },
      ownerReferences: [ownerOf(pool)],
    },
    rules: [
      // The config, and the canary plan (which sidecar runs the pool's one canary, and its verdicts),
      // by name: the sidecar watches them for reloads within milliseconds.
      {
        apiGroups: [''],
        resources: ['configmaps'],
        resourceNames: [configMapNameOf(pool.name), canaryPlanConfigMapName(configMapNameOf(pool.name))],
        verbs: ['get', 'list', 'watch'],
      },
      // The endpoints of the pool's discovery Services (routing.discoveryMode: sidecar), as
      // kube-proxy reads them. RBAC cannot narrow this by label: every EndpointSlice of the
      // namespace is readable (pod names and IPs, node names, readiness), nothing else.
      { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['list', 'watch'] },
    ],
  };
}

export function desiredRoleBinding(pool: PoolRef, serviceAccounts: readonly string[]): RbacObject {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'RoleBinding',
    metadata: {
      name: sidecarRbacName(pool.name),
      namespace: pool.namespace,
      labels: { ...RBAC_MANAGED_BY, [POOL_LABEL]: pool.name },
      ownerReferences: [ownerOf(pool)],
    },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: sidecarRbacName(pool.name) },
    subjects: serviceAccounts.map((name) => ({ kind: 'ServiceAccount', name, namespace: pool.namespace })),
  };
}

function ownerOf(pool: PoolRef): Record<string, unknown> {
  return {
    apiVersion: `${GROUP}/${VERSION}`,
    kind: KIND,
    name: pool.name,
    uid: pool.uid,
    controller: true,
    blockOwnerDeletion: true,
  };
}

/** True when the stored object already grants what `desired` grants (rules, roleRef, subjects). */
export function grantsMatch(stored: RbacObject | undefined, desired: RbacObject): boolean {
  if (stored === undefined) return false;
  const norm = (o: RbacObject) =>
    JSON.stringify([
      o.rules ?? null,
      o.roleRef ?? null,
      (o.subjects ?? []).map(
        (s: { kind?: string; namespace?: string; name?: string }) => `${s.kind}/${s.namespace}/${s.name}`,
      ),
    ]);
  return norm(stored) === norm(desired);
}
