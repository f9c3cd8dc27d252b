/**
 * A sidecar that reads its ConfigMap through the API also watches the pool's canary plan
 * (common/canary-plan.ts), a small ConfigMap the operator writes, and follows it: one sidecar of
 * the pool runs the canary, the others take its verdicts. Until the plan is read the canary waits;
 * when it cannot be read (no such object, no RBAC for it, no API) within `fallbackMs`, this
 * sidecar runs its own canary, as before there was a plan.
 */
import type { Logger } from 'pino';
import type { Clock, Random, Timers } from '../../common/clock.ts';
import { CANARY_PLAN_KEY, parseCanaryPlan } from '../../common/canary-plan.ts';
import type { ConfigMap } from '../../kube/api.ts';
import { Informer, type ListWatchApi } from '../../kube/informer.ts';
import type { Canary } from './canary.ts';
import { OWN, roleFor } from './canary-role.ts';

export interface PlanWatchOptions {
  readonly api: ListWatchApi;
  readonly namespace: string;
  /** The plan's ConfigMap (canaryPlanConfigMapName of the config ConfigMap). */
  readonly name: string;
  /** This sidecar's pod (POD_NAME). */
  readonly podName: string;
  readonly canary: Pick<Canary, 'setRole' | 'role'>;
  readonly logger: Logger;
  readonly timers: Timers;
  readonly clock: Clock;
  readonly random: Random;
  /** How long to wait for the plan before running an own canary (default 10 s). */
  readonly fallbackMs?: number;
}

export interface PlanWatch {
  stop(): void;
}

export function watchCanaryPlan(o: PlanWatchOptions): PlanWatch {
  let read = false;
  const follow = (cm: ConfigMap | undefined) => {
    read = true;
    const role = roleFor(parseCanaryPlan(cm?.data?.[CANARY_PLAN_KEY]), o.podName);
    const was = o.canary.role;
    o.canary.setRole(role);
    if (was.kind !== role.kind)
      o.logger.info(
        { canary_role: role.kind, runner: role.kind === 'follower' ? role.runner : o.podName },
        'canary role',
      );
  };
  o.canary.setRole({ kind: 'waiting' });
  const informer = new Informer<ConfigMap>(o.api, {
    name: 'canary-plan',
    path: `/api/v1/namespaces/${o.namespace}/configmaps`,
    fieldSelector: `metadata.name=${o.name}`,
    logger: o.logger,
    timers: o.timers,
    clock: o.clock,
    random: o.random,
    onEvent: (event, cm) => follow(event === 'deleted' ? undefined : cm),
  });
  informer.start();
  void informer.waitForSync().then(() => {
    if (informer.store.size === 0) follow(undefined);
  });
  const fallback = o.timers.setTimeout(() => {
    if (read) return;
    o.logger.warn(
      { configmap: `${o.namespace}/${o.name}` },
      'canary plan not readable: this sidecar runs its own canary',
    );
    o.canary.setRole(OWN);
  }, o.fallbackMs ?? 10_000);
  return {
    stop() {
      o.timers.clearTimeout(fallback);
      informer.stop();
    },
  };
}
