/**
 * Pure: the pods injected for a pool -> how many there are, how many run the operator's current
 * sidecar version, and which do not (the pods to restart after an upgrade, like
 * `istioctl proxy-status`). undefined when the pool has no injected pod, so pools that do not use
 * injection keep their status as it was.
 */
import type { PoolStatus } from '../crd/pool-schema.ts';
import { POOL_LABEL, VERSION_ANNOTATION } from '../crd/labels.ts';

export type InjectionStatus = NonNullable<PoolStatus['injection']>;

/** How many outdated pods the status names (the count covers all). */
const OUTDATED_LISTED = 20;

interface PodLike {
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    deletionTimestamp?: string;
  };
}

export function injectionStatus(
  pods: readonly PodLike[],
  pool: { name: string; namespace: string },
  currentVersion: string,
): InjectionStatus | undefined {
  let injected = 0;
  const outdated: string[] = [];
  for (const pod of pods) {
    const m = pod.metadata;
    if (m.namespace !== pool.namespace || m.labels?.[POOL_LABEL] !== pool.name || m.deletionTimestamp !== undefined)
      continue;
    const version = m.annotations?.[VERSION_ANNOTATION];
    if (version === undefined) continue;
    injected++;
    if (version !== currentVersion) outdated.push(`${m.name} (${version})`);
  }
  if (injected === 0) return undefined;
  outdated.sort();
  const current = injected - outdated.length;
  return {
    pods: injected,
    current,
    version: currentVersion,
    summary: `${current}/${injected}`,
    outdated: outdated.slice(0, OUTDATED_LISTED),
  };
}
