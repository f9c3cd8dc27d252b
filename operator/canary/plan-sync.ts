/**
 * One step of a pool's reconcile: keep its canary plan ConfigMap (common/canary-plan.ts) right.
 * Written by server-side apply only when its text differs from what is in place (or what we last
 * wrote, while the cache lags): the runner stays while it lives and verdicts flip rarely, so the
 * object changes rarely, and it never changes with endpoints.
 */
import type { KubeApi, KubeObject } from '../../kube/api.ts';
import {
  CANARY_PLAN_KEY,
  canaryPlanConfigMapName,
  formatCanaryPlan,
  parseCanaryPlan,
} from '../../common/canary-plan.ts';
import { GROUP, KIND, VERSION, type RerankerPool } from '../crd/pool-schema.ts';
import { POOL_LABEL } from '../crd/labels.ts';
import type { CachedConfigMap } from '../controller/cache-transforms.ts';
import type { WriteMemo } from '../controller/write-memo.ts';
import { durationSeconds } from '../../common/settings/duration.ts';
import { nextPlan, type RunnerRound } from './plan.ts';

export interface PlanSyncDeps {
  readonly api: Pick<KubeApi, 'apply'>;
  readonly configMap: (namespace: string, name: string) => CachedConfigMap | undefined;
  readonly memo: WriteMemo<string | undefined>;
  readonly fieldManager: string;
  readonly labels: Readonly<Record<string, string>>;
}

export interface PlanSyncInputs {
  /** The pool's routing.canary.interval as written (e.g. "5m"); unset or zero: the canary is off. */
  readonly interval: unknown;
  readonly configMapName: string;
  readonly pods: readonly string[];
  readonly rounds: ReadonlyMap<string, RunnerRound> | undefined;
}

/** True when the interval turns the canary on: a duration above zero. */
export function canaryEnabled(interval: unknown): boolean {
  return typeof interval === 'string' && (durationSeconds(interval) ?? 0) > 0;
}

/** Returns true when it wrote the plan. */
export async function syncCanaryPlan(deps: PlanSyncDeps, pool: RerankerPool, o: PlanSyncInputs): Promise<boolean> {
  const ns = pool.metadata.namespace!;
  const key = `${ns}/${pool.metadata.name}`;
  const name = canaryPlanConfigMapName(o.configMapName);
  const current = deps.configMap(ns, name);
  const inPlace = deps.memo.view(key, current?.metadata.resourceVersion, current?.planText);
  const next = nextPlan(parseCanaryPlan(inPlace), {
    enabled: canaryEnabled(o.interval),
    pods: o.pods,
    rounds: o.rounds ?? new Map(),
  });
  if (next === undefined) return false;
  const text = formatCanaryPlan(next);
  if (text === inPlace) return false;
  const body = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name,
      namespace: ns,
      labels: { ...deps.labels, [POOL_LABEL]: pool.metadata.name },
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
    data: { [CANARY_PLAN_KEY]: text },
  };
  const applied = await deps.api.apply<KubeObject>(
    `/api/v1/namespaces/${ns}/configmaps/${name}`,
    body,
    deps.fieldManager,
  );
  deps.memo.remember(key, current?.metadata.resourceVersion, applied.metadata.resourceVersion, text);
  return true;
}
