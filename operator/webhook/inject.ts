/**
 * Pure: a pod being created + its pool (or none) -> inject (a JSON Patch) or admit unchanged,
 * with the warnings the user sees (`kubectl` prints them) and whether an Event is worth recording.
 */
import type { RerankerPool } from '../crd/pool-schema.ts';
import { SIDECAR_PORT } from '../../common/settings/environment.ts';
import { readTuning, sidecarContainer, SIDECAR_NAME, type SidecarSettings } from './sidecar-container.ts';

import { INJECT_LABEL, POOL_LABEL, SIDECAR_LABEL, VERSION_ANNOTATION } from '../crd/labels.ts';

export { POOL_LABEL };

interface Container {
  name: string;
  ports?: { containerPort?: number }[];
}

export interface Pod {
  metadata: {
    name?: string;
    generateName?: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  spec: {
    containers?: Container[];
    initContainers?: Container[];
    serviceAccountName?: string;
    automountServiceAccountToken?: boolean;
  };
}

export interface JsonPatchOp {
  readonly op: 'add';
  readonly path: string;
  readonly value: unknown;
}

export type Decision =
  | { readonly inject: true; readonly patch: JsonPatchOp[]; readonly warnings: string[] }
  | {
      readonly inject: false;
      readonly reason: 'NoPoolLabel' | 'OptedOut' | 'AlreadyInjected' | 'PoolNotFound' | 'PortInUse';
      readonly warnings: string[];
      readonly event: boolean;
    };

/** The JSON Pointer form of a map key (RFC 6901). */
function pointer(key: string): string {
  return key.replace(/~/g, '~0').replace(/\//g, '~1');
}

export function podDisplayName(pod: Pod): string {
  return pod.metadata.name || (pod.metadata.generateName ? `${pod.metadata.generateName}*` : '(unnamed)');
}

export function decideInjection(pod: Pod, pool: RerankerPool | undefined, settings: SidecarSettings): Decision {
  const labels = pod.metadata.labels ?? {};
  const poolName = labels[POOL_LABEL];
  if (poolName === undefined || poolName === '')
    return {
      inject: false,
      reason: 'NoPoolLabel',
      warnings: [`reranker-lb: not injected: the pod has no ${POOL_LABEL} label`],
      event: false,
    };
  if (labels[INJECT_LABEL] === 'false')
    return {
      inject: false,
      reason: 'OptedOut',
      warnings: [`reranker-lb: not injected: ${INJECT_LABEL}=false`],
      event: false,
    };
  const all = [...(pod.spec.initContainers ?? []), ...(pod.spec.containers ?? [])];
  if (all.some((c) => c.name === SIDECAR_NAME) || pod.metadata.annotations?.[VERSION_ANNOTATION] !== undefined) {
    return {
      inject: false,
      reason: 'AlreadyInjected',
      warnings: [`reranker-lb: not injected: the pod already has a container named ${SIDECAR_NAME}`],
      event: true,
    };
  }
  if (pool === undefined) {
    return {
      inject: false,
      reason: 'PoolNotFound',
      warnings: [
        `reranker-lb: not injected: RerankerPool "${poolName}" not found in this namespace; create it, then restart the workload`,
      ],
      event: true,
    };
  }
  const { tuning, warnings } = readTuning(pod.metadata.annotations, settings, pool.spec.sidecarPort ?? SIDECAR_PORT);
  const clash = all.find((c) => c.ports?.some((p) => p.containerPort === tuning.port));
  if (clash !== undefined) {
    return {
      inject: false,
      reason: 'PortInUse',
      warnings: [
        ...warnings,
        `reranker-lb: not injected: container ${clash.name} already uses port ${tuning.port}; set the annotation reranker.dev/sidecar-port`,
      ],
      event: true,
    };
  }
  if (pod.spec.automountServiceAccountToken === false) {
    warnings.push(
      'reranker-lb: automountServiceAccountToken is false: the sidecar cannot read its ConfigMap and stays not ready',
    );
  }
  const container = sidecarContainer(pool, settings, tuning);
  const patch: JsonPatchOp[] = [];
  // First, so it is running before any other init container or app container starts.
  if (pod.spec.initContainers === undefined || pod.spec.initContainers.length === 0)
    patch.push({ op: 'add', path: '/spec/initContainers', value: [container] });
  else patch.push({ op: 'add', path: '/spec/initContainers/0', value: container });
  patch.push({ op: 'add', path: `/metadata/labels/${pointer(SIDECAR_LABEL)}`, value: 'true' });
  if (pod.metadata.annotations === undefined)
    patch.push({ op: 'add', path: '/metadata/annotations', value: { [VERSION_ANNOTATION]: settings.version } });
  else patch.push({ op: 'add', path: `/metadata/annotations/${pointer(VERSION_ANNOTATION)}`, value: settings.version });
  return { inject: true, patch, warnings };
}
