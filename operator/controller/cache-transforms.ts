/**
 * What the operator's informer caches keep of each object: only what the handlers and the
 * reconcile read. managedFields and last-applied annotations are dropped everywhere, a pod keeps
 * its labels, IP and phase, and a rendered ConfigMap keeps the sha256 of its config instead of
 * the config itself (up to 1 MiB per pool).
 */
import { createHash } from 'node:crypto';
import type { KubeObject } from '../../kube/api.ts';
import { CONFIG_KEY } from '../render/render-config.ts';

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
}

export function slimConfigMap(cm: CachedConfigMap & { data?: Record<string, string> }): CachedConfigMap {
  const text = cm.data?.[CONFIG_KEY];
  return { metadata: slimMetadata(cm.metadata), dataHash: text === undefined ? cm.dataHash : createHash('sha256').update(text).digest('hex') };
}
