/** The sidecar process: environment -> config -> server; exits with a clear message on bad config. */
import { ConfigError } from './errors.ts';
import { CONFIG_SEARCH_LIST, findConfigPath } from './config/load.ts';
import type { LbConfig } from './config/model.ts';
import { applyProxyBypass } from './net/no-proxy.ts';
import { KubeApi, loadKubeConfig } from '../kube/api.ts';
import { watchConfigMap } from './reload/configmap-watch.ts';
import { watchCanaryPlan } from './canary/plan-watch.ts';
import { canaryPlanConfigMapName } from '../common/canary-plan.ts';
import { defaultsSource, fileSource, KubernetesSource, type ConfigSource } from './reload/config-source.ts';
import { readFileSync } from 'node:fs';
import { getHeapStatistics } from 'node:v8';
import { systemClock, systemTimers } from '../common/clock.ts';
import { adminTokenFrom } from './server/admin-auth.ts';
import { asyncStdout, createLogger } from '../common/logger.ts';
import { envValue, SIDECAR_ENV, type SidecarEnvName } from '../common/settings/environment.ts';
import { startSidecar } from './server/sidecar.ts';
import { SliceWatch } from './discovery/slice-watch.ts';
import type { EndpointEvents } from './discovery/followed-endpoints.ts';

type SecondsVar = {
  [K in SidecarEnvName]: (typeof SIDECAR_ENV)[K] extends { default: number } ? K : never;
}[SidecarEnvName];
import { leaseTiming } from './limits/lease-timing.ts';

function isTrue(value: string | undefined): boolean {
  return value !== undefined && ['1', 'true', 'yes', 'on'].includes(value.trim().toLowerCase());
}

/** A declared variable in seconds -> ms (its declared default when unset). */
function seconds(env: NodeJS.ProcessEnv, name: SecondsVar): number {
  const raw = envValue(env, name);
  const value = raw === undefined ? SIDECAR_ENV[name].default : Number(raw);
  if (!Number.isFinite(value) || value < 0)
    throw new ConfigError('(environment)', [`${name}: expected seconds >= 0, got "${raw}"`]);
  return value * 1000;
}

/** Where the sidecar's own ConfigMap is, when it should watch it through the Kubernetes API. */
function configMapRef(env: NodeJS.ProcessEnv): { namespace: string; name: string } | undefined {
  const name = envValue(env, 'RERANKER_CONFIGMAP_NAME');
  if (name === undefined) return undefined;
  let namespace = envValue(env, 'RERANKER_CONFIGMAP_NAMESPACE');
  if (namespace === undefined) {
    try {
      namespace = readFileSync('/var/run/secrets/kubernetes.io/serviceaccount/namespace', 'utf8').trim();
    } catch {
      throw new ConfigError('(environment)', [
        'RERANKER_CONFIGMAP_NAMESPACE: required outside a pod (or set POD_NAMESPACE)',
      ]);
    }
  }
  return { namespace, name };
}

/** One source of truth: the ConfigMap through the API when named, else the file, else defaults. */
function configSource(
  enabled: boolean,
  env: NodeJS.ProcessEnv,
  configMap: { namespace: string; name: string } | undefined,
): ConfigSource {
  const path = findConfigPath(env, process.cwd());
  if (configMap !== undefined) return new KubernetesSource(configMap, path, env);
  if (path !== undefined) return fileSource(path, env);
  if (enabled) {
    throw new ConfigError('(none)', [
      `(file): no config file; set RERANKER_CONFIG_PATH or create one of ${CONFIG_SEARCH_LIST.join(', ')}`,
    ]);
  }
  return defaultsSource(env);
}

async function main(): Promise<void> {
  const env = process.env;
  const noProxy = applyProxyBypass(env);
  const defaultBuffer = SIDECAR_ENV.RERANKER_LOG_BUFFER_BYTES.default;
  const logBuffer = Number(envValue(env, 'RERANKER_LOG_BUFFER_BYTES') ?? defaultBuffer);
  const stdout = asyncStdout(Number.isInteger(logBuffer) && logBuffer > 0 ? logBuffer : defaultBuffer);
  process.once('exit', () => stdout.flush());
  const logger = createLogger(envValue(env, 'LOG_LEVEL') ?? SIDECAR_ENV.LOG_LEVEL.default, stdout.stream);
  const enabled = isTrue(envValue(env, 'RERANKER_LOAD_BALANCER_ENABLED'));
  let source: ConfigSource;
  let cmRef: ReturnType<typeof configMapRef>;
  let config: LbConfig;
  let adminToken: string | undefined;
  let delayMs: number;
  let graceMs: number;
  try {
    cmRef = configMapRef(env);
    source = configSource(enabled, env, cmRef);
    config = source.initial();
    adminToken = adminTokenFrom(env);
    delayMs = seconds(env, 'RERANKER_SHUTDOWN_DELAY_SECONDS');
    graceMs = seconds(env, 'RERANKER_SHUTDOWN_GRACE_SECONDS');
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`reranker-lb: ${error.message}\n`);
      process.exit(2);
    }
    const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    process.stderr.write(`reranker-lb: cannot start: ${reason}\n`);
    process.exit(2);
  }
  for (const warning of config.warnings) logger.warn({ source: config.source }, `config: ${warning}`);
  const port = Number(envValue(env, 'RERANKER_LB_PORT') ?? SIDECAR_ENV.RERANKER_LB_PORT.default);
  const hostname = envValue(env, 'RERANKER_LB_HOST') ?? SIDECAR_ENV.RERANKER_LB_HOST.default;
  // With API access, the sidecar follows its discovery Services' EndpointSlices itself (in the
  // ConfigMap's namespace, the pool's); without it, discovery templates are ignored.
  let kubeApi: KubeApi | undefined;
  try {
    kubeApi = cmRef === undefined ? undefined : new KubeApi(loadKubeConfig());
  } catch (error) {
    process.stderr.write(
      `reranker-lb: cannot start: no Kubernetes API access for the ConfigMap watch (${(error as Error).message})\n`,
    );
    process.exit(2);
  }
  const endpoints =
    kubeApi === undefined || cmRef === undefined
      ? undefined
      : (events: EndpointEvents) =>
          new SliceWatch({
            api: kubeApi,
            namespace: cmRef.namespace,
            logger,
            timers: systemTimers,
            clock: systemClock,
            random: Math.random,
            onChange: events.changed,
            onFailure: events.failed,
          });
  const testLimitWindow = envValue(env, 'RERANKER_TEST_LIMIT_WINDOW_MS');
  let running: Awaited<ReturnType<typeof startSidecar>>;
  try {
    running = await startSidecar({
      config,
      enabled,
      logger,
      port,
      hostname,
      load: () => source.load(),
      watchPath: source.watchPath,
      sourceKind: source.kind,
      logDropped: stdout.dropped,
      adminToken,
      watchRecheckMs: seconds(env, 'RERANKER_CONFIG_RECHECK_SECONDS'),
      endpoints,
      // Tests only: a shorter rpm/tpm window, so a run proves several windows in seconds.
      limitTiming: testLimitWindow === undefined ? undefined : leaseTiming(Number(testLimitWindow)),
    });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why =
      code === 'EADDRINUSE'
        ? `port ${port} on ${hostname} is already in use (set RERANKER_LB_PORT)`
        : code === 'EACCES'
          ? `no permission to listen on ${hostname}:${port}`
          : (code ?? 'unknown error');
    process.stderr.write(`reranker-lb: cannot listen: ${why}\n`);
    process.exit(2);
  }
  logger.info(
    {
      url: running.url,
      load_balancer_enabled: enabled,
      config_source: config.source,
      config_hash: config.hash,
      backends: config.backends.length,
      routing_strategy: config.router.strategy,
      admin_api: adminToken !== undefined,
      no_proxy: noProxy,
      // What the launcher (launch.ts) chose from the container's memory limit, and what V8 took.
      heap_plan: envValue(env, 'RERANKER_HEAP_PLAN'),
      heap_limit_mib: Math.round(getHeapStatistics().heap_size_limit / 2 ** 20),
    },
    'sidecar listening',
  );
  if (cmRef !== undefined && kubeApi !== undefined && source instanceof KubernetesSource) {
    const cmWatch = watchConfigMap({
      api: kubeApi,
      ...cmRef,
      reloader: running.sidecar.reloader,
      source,
      logger,
      timers: systemTimers,
      clock: systemClock,
      random: Math.random,
    });
    logger.info(
      { configmap: `${cmRef.namespace}/${cmRef.name}` },
      'watching the config ConfigMap through the Kubernetes API',
    );
    process.once('exit', () => cmWatch.stop());
    // One canary per pool: with its pod name (POD_NAME, set by injection) a sidecar follows the operator's plan.
    const podName = envValue(env, 'RERANKER_POD_NAME');
    if (podName !== undefined && podName !== '' && enabled) {
      const planWatch = watchCanaryPlan({
        api: kubeApi,
        namespace: cmRef.namespace,
        name: canaryPlanConfigMapName(cmRef.name),
        podName,
        canary: running.sidecar.canary,
        logger,
        timers: systemTimers,
        clock: systemClock,
        random: Math.random,
      });
      process.once('exit', () => planWatch.stop());
    }
  }
  process.on('SIGHUP', () => running.sidecar.reloader.reload('signal'));
  const stop = (signal: string) => {
    logger.info(
      { signal, in_flight: running.sidecar.inFlight.count, delay_ms: delayMs, grace_ms: graceMs },
      'shutting down: readiness off, draining',
    );
    void running.shutdown(delayMs, graceMs).then(({ drained }) => {
      logger.info({ drained }, 'stopped');
      process.exit(0);
    });
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}

void main();
