/**
 * What the operator's informer caches keep of each object: only what the handlers and the
 * reconcile read. managedFields and last-applied annotations are dropped everywhere, a pod keeps
 * its labels, IP and phase, and a rendered ConfigMap keeps the sha256 of its config instead of
 * the config itself (up to 1 MiB per pool).
 */
import { createHash } from 'node:crypto';
import type { KubeObject } from '../../kube/api.ts';
import { CONFIG_KEY } from '../render/render-config.ts';
import { CANARY_PLAN_KEY } from '../../common/canary-plan.ts';

type Meta = KubeObject['metadata'] & { managedFields?: unknown };

export function slimMetadata(metadata: Meta): KubeObject['metadata'] {
  const { managedFields: _managed, annotations, ...rest } = metadata;
  if (annotations === undefined) return rest;
  const { 'kubectl.kubernetes.io/last-applied-configuration': _last, ...kept } = annotations;
  return Object.keys(kept).length === 0 ? rest : { ...rest, annotations: kept };
}

export function slim<T extends KubeObject>(object: T): T {
  return { ...object, metadata: slimMetadata(object.metadata) };
}

export interface CachedPod extends KubeObject {
  status?: { podIP?: string; phase?: string };
}

export function slimPod(pod: CachedPod): CachedPod {
  return { metadata: slimMetadata(pod.metadata), status: { podIP: pod.status?.podIP, phase: pod.status?.phase } };
}

export interface CachedConfigMap extends KubeObject {
  /** sha256 of data[CONFIG_KEY] (the same hash the renderer and the sidecars compute), if present. */
  dataHash?: string;
  /** The canary plan's text, on the pool's canary plan ConfigMap (a few hundred bytes). */
  planText?: string;
}

export function slimConfigMap(cm: CachedConfigMap & { data?: Record<string, string> }): CachedConfigMap {
  const text = cm.data?.[CONFIG_KEY];
  const plan = cm.data?.[CANARY_PLAN_KEY] ?? cm.planText;
  return {
    metadata: slimMetadata(cm.metadata),
    dataHash: text === undefined ? cm.dataHash : createHash('sha256').update(text).digest('hex'),
    ...(plan === undefined ? {} : { planText: plan }),
  };
}
