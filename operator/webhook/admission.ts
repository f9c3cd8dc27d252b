/**
 * One AdmissionReview in, one out. Looks the pool up, calls decideInjection (pure), records an
 * Event when something needs a person's attention. Every answer allows the pod: the webhook adds
 * a sidecar or says (in a warning) why it did not; it never blocks a workload by itself.
 */
import type { Logger } from 'pino';
import type { RerankerPool } from '../crd/pool-schema.ts';
import { decideInjection, podDisplayName, POOL_LABEL, type Pod } from './inject.ts';
import type { SidecarSettings } from './sidecar-container.ts';

export interface AdmissionRequest {
  uid: string;
  kind?: { kind?: string };
  operation?: string;
  namespace?: string;
  dryRun?: boolean;
  object?: Pod & {
    metadata: {
      ownerReferences?: { apiVersion: string; kind: string; name: string; uid: string; controller?: boolean }[];
    };
  };
}

export interface AdmissionResponse {
  uid: string;
  allowed: true;
  patchType?: 'JSONPatch';
  patch?: string;
  warnings?: string[];
}

export interface InvolvedObject {
  apiVersion: string;
  kind: string;
  name: string;
  namespace: string;
  uid?: string;
}

export interface AdmissionDeps {
  readonly settings: SidecarSettings;
  /** undefined: no such pool. Throws when it cannot tell. */
  readonly getPool: (namespace: string, name: string) => Promise<RerankerPool | undefined>;
  /** Fire and forget: never delays the answer. */
  readonly event: (involved: InvolvedObject, reason: string, message: string) => Promise<void> | void;
  readonly logger: Logger;
}

export type Outcome = 'injected' | 'skipped' | 'error';

/** Warnings are limited in number and size by the apiserver; ours stay far below (120 chars each). */
function trimmed(warnings: readonly string[]): string[] {
  return warnings.slice(0, 8).map((w) => (w.length > 240 ? `${w.slice(0, 237)}...` : w));
}

export async function admit(
  request: AdmissionRequest,
  deps: AdmissionDeps,
): Promise<{ response: AdmissionResponse; outcome: Outcome }> {
  const pod = request.object;
  const namespace = request.namespace ?? pod?.metadata.namespace;
  if (pod === undefined || namespace === undefined || request.kind?.kind !== 'Pod' || request.operation !== 'CREATE') {
    return { response: { uid: request.uid, allowed: true }, outcome: 'skipped' };
  }
  const poolName = pod.metadata.labels?.[POOL_LABEL];
  let pool: RerankerPool | undefined;
  if (poolName !== undefined && poolName !== '') {
    try {
      pool = await deps.getPool(namespace, poolName);
    } catch (error) {
      deps.logger.warn(
        { namespace, pool: poolName, err: (error as Error).message },
        'webhook: could not read the pool',
      );
      return {
        response: {
          uid: request.uid,
          allowed: true,
          warnings: [`reranker-lb: not injected: the operator could not read RerankerPool "${poolName}"`],
        },
        outcome: 'error',
      };
    }
  }
  const decision = decideInjection(pod, pool, deps.settings);
  const name = podDisplayName(pod);
  if (decision.inject) {
    deps.logger.info(
      { namespace, pod: name, pool: poolName, version: deps.settings.version },
      'webhook: sidecar injected',
    );
    const response: AdmissionResponse = {
      uid: request.uid,
      allowed: true,
      patchType: 'JSONPatch',
      patch: Buffer.from(JSON.stringify(decision.patch)).toString('base64'),
    };
    if (decision.warnings.length > 0) response.warnings = trimmed(decision.warnings);
    return { response, outcome: 'injected' };
  }
  deps.logger.info({ namespace, pod: name, pool: poolName, reason: decision.reason }, 'webhook: not injected');
  if (decision.event && request.dryRun !== true) {
    // The pod has no uid yet; its controller (a ReplicaSet, a Job...) does, and `kubectl describe` shows it there.
    const owner = pod.metadata.ownerReferences?.find((r) => r.controller === true);
    const involved: InvolvedObject =
      owner !== undefined
        ? { apiVersion: owner.apiVersion, kind: owner.kind, name: owner.name, namespace, uid: owner.uid }
        : { apiVersion: 'v1', kind: 'Pod', name: pod.metadata.name || pod.metadata.generateName || 'pod', namespace };
    void deps.event(
      involved,
      `Injection${decision.reason}`,
      `${name}: ${decision.warnings.at(-1)!.replace(/^reranker-lb: /, '')}`,
    );
  }
  return { response: { uid: request.uid, allowed: true, warnings: trimmed(decision.warnings) }, outcome: 'skipped' };
}
