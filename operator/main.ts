/**
 * The operator process: informers always run (so a standby is warm); only the leader reconciles,
 * for one leadership term: when the lease cannot be renewed in time the term's signal aborts
 * every worker and API call of it, and the process exits non-zero (as a controller-runtime
 * manager does) so Kubernetes restarts it clean as a standby.
 * /healthz, /readyz (initial lists synced) and /metrics on OPERATOR_PORT.
 */
import { serve } from '@hono/node-server';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { getHeapStatistics } from 'node:v8';
import { Hono } from 'hono';
import { KubeApi, loadKubeConfig } from '../kube/api.ts';
import { LeaderElector } from '../kube/leader-election.ts';
import { createLogger } from '../common/logger.ts';
import { systemClock, systemTimers } from '../common/clock.ts';
import { Controller } from './controller/controller.ts';
import { apiRequestObserver, createOperatorMetrics } from './controller/metrics.ts';
import { reconcileTimeoutMs } from './controller/reconcile-settings.ts';
import { DEFAULT_VERIFY_POLICY, type VerifyPolicy } from './controller/verify-policy.ts';
import { Injection } from './webhook/injection.ts';
import { injectionSettings } from './webhook/settings.ts';

function ownNamespace(env: NodeJS.ProcessEnv): string {
  if (env.POD_NAMESPACE) return env.POD_NAMESPACE;
  try {
    return readFileSync('/var/run/secrets/kubernetes.io/serviceaccount/namespace', 'utf8').trim();
  } catch {
    return 'default';
  }
}

/** WATCH_NAMESPACES (comma-separated) or WATCH_NAMESPACE; unset: every namespace. */
function watchNamespaces(env: NodeJS.ProcessEnv): string[] | undefined {
  const raw = env.WATCH_NAMESPACES ?? env.WATCH_NAMESPACE ?? '';
  const list = raw
    .split(',')
    .map((n) => n.trim())
    .filter((n) => n !== '');
  return list.length === 0 ? undefined : [...new Set(list)];
}

/** OPERATOR_SIDECAR_RESYNC_SECONDS: how often synced sidecars are asked again (default 30). */
function verifyPolicy(env: NodeJS.ProcessEnv): VerifyPolicy {
  const seconds = Number(env.OPERATOR_SIDECAR_RESYNC_SECONDS ?? '');
  if (!Number.isFinite(seconds) || seconds <= 0) return DEFAULT_VERIFY_POLICY;
  return {
    ...DEFAULT_VERIFY_POLICY,
    resyncMs: seconds * 1000,
    lagMaxMs: Math.min(DEFAULT_VERIFY_POLICY.lagMaxMs, seconds * 1000),
  };
}

/** OPERATOR_SIDECAR_COUNT_STABILIZATION_SECONDS: how long fewer sidecar pods must be seen before sidecar_count drops (default 60). */
function stabilizationMs(env: NodeJS.ProcessEnv): number | undefined {
  const seconds = Number(env.OPERATOR_SIDECAR_COUNT_STABILIZATION_SECONDS ?? '');
  return Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : undefined;
}

/** The V8 heap limit and the container's memory limit (cgroup), so a mismatch is visible in the log. */
function memoryLimits(): { heap_limit_mib: number; container_limit_mib: number | undefined } {
  const mib = (bytes: number) => Math.round(bytes / 2 ** 20);
  const constrained = process.constrainedMemory();
  // libuv reports no limit as 0 or as a huge number (cgroup "max").
  return {
    heap_limit_mib: mib(getHeapStatistics().heap_size_limit),
    container_limit_mib: constrained > 0 && constrained < 2 ** 50 ? mib(constrained) : undefined,
  };
}

async function main(): Promise<void> {
  const env = process.env;
  const logger = createLogger(env.LOG_LEVEL, undefined, 'reranker-lb-operator');
  // The metrics' callbacks read the controller only when scraped, by which time it exists.
  const metrics = createOperatorMetrics(
    () => controller.queue.depth,
    () => Object.fromEntries(Object.entries(controller.informers).map(([name, inf]) => [name, inf.synced])),
    () => ({ writes: controller.events.writes, dropped: controller.events.dropped }),
  );
  const api = new KubeApi(loadKubeConfig(), { observer: apiRequestObserver(metrics), clock: systemClock });
  const identity = `${env.POD_NAME ?? hostname()}_${randomBytes(4).toString('hex')}`;
  const inj = injectionSettings(env);
  if (inj.problems.length > 0) {
    logger.fatal({ problems: inj.problems }, 'invalid injection settings');
    process.exit(2);
  }
  const reconcileTimeout = reconcileTimeoutMs(env);
  if (reconcileTimeout.problem !== undefined) {
    logger.fatal({ problems: [reconcileTimeout.problem] }, 'invalid operator settings');
    process.exit(2);
  }
  const controller = new Controller({
    api,
    logger,
    timers: systemTimers,
    clock: systemClock,
    random: Math.random,
    identity,
    namespaces: watchNamespaces(env),
    workers: Number(env.OPERATOR_WORKERS ?? 64),
    verifyPolicy: verifyPolicy(env),
    sidecarVersion: inj.settings?.sidecar.version,
    reconcileTimeoutMs: reconcileTimeout.ms,
    sidecarCountStabilizationMs: stabilizationMs(env),
  });
  controller.start(metrics);

  // --- sidecar injection: webhook + certificates on every replica, sidecar RBAC on the leader.
  const injection =
    inj.settings === undefined
      ? undefined
      : new Injection(inj.settings, {
          api,
          logger,
          clock: systemClock,
          timers: systemTimers,
          random: Math.random,
          registry: metrics.registry,
          namespace: ownNamespace(env),
          namespaces: watchNamespaces(env),
          identity,
        });
  injection?.start();
  // --- end sidecar injection

  const leaderElect = env.LEADER_ELECT !== 'false';
  const elector = new LeaderElector(api, {
    namespace: ownNamespace(env),
    name: env.LEASE_NAME ?? 'reranker-lb-operator',
    identity,
    logger,
    timers: systemTimers,
    clock: systemClock,
    onStartedLeading: (term) => {
      metrics.leader.set(1);
      void controller.startLeading(term);
      injection?.startLeading(term);
    },
    // The term's signal has already cancelled every call of it; nothing of it may run on.
    onStoppedLeading: (reason) => {
      metrics.leader.set(0);
      logger.fatal({ identity, reason }, 'leadership lost; exiting so that a restart starts clean');
      process.exit(1);
    },
  });
  if (leaderElect) elector.start();
  else {
    const forever = new AbortController().signal; // one term, as long as the process
    metrics.leader.set(1);
    void controller.startLeading(forever);
    injection?.startLeading(forever);
  }

  const app = new Hono();
  app.get('/healthz', (c) => c.json({ status: 'ok' }));
  app.get('/readyz', (c) => {
    const ready = controller.synced && (injection?.server.listening ?? true); // the Service sends admission calls only to replicas serving them
    return c.json({ ready, leader: elector.isLeader || !leaderElect }, ready ? 200 : 503);
  });
  app.get('/metrics', async (c) =>
    c.body(await metrics.registry.metrics(), 200, { 'content-type': metrics.registry.contentType }),
  );
  const port = Number(env.OPERATOR_PORT ?? 8081);
  const server = serve({ fetch: app.fetch, port, hostname: env.OPERATOR_HOST ?? '0.0.0.0' }, (info) => {
    logger.info(
      {
        port: info.port,
        identity,
        namespaces: watchNamespaces(env) ?? '(all)',
        leader_election: leaderElect,
        ...memoryLimits(),
      },
      'operator started',
    );
  });

  const stop = (signal: string) => {
    logger.info({ signal }, 'operator stopping');
    controller.stop();
    injection?.stop();
    void elector.stop().finally(() => {
      server.close();
      process.exit(0);
    });
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}

void main();
