/** The sidecar process: environment -> config -> server; exits with a clear message on bad config. */
import { ConfigError } from './errors.ts';
import { CONFIG_SEARCH_LIST, findConfigPath, loadConfigFile, parseConfigText } from './config/load.ts';
import type { LbConfig } from './config/model.ts';
import { applyProxyBypass } from './net/no-proxy.ts';
import { adminTokenFrom } from './server/admin-auth.ts';
import { createLogger } from './server/logger.ts';
import { startSidecar } from './server/sidecar.ts';

function isTrue(value: string | undefined): boolean {
  return value !== undefined && ['1', 'true', 'yes', 'on'].includes(value.trim().toLowerCase());
}

function seconds(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  const value = raw === undefined || raw === '' ? fallback : Number(raw);
  if (!Number.isFinite(value) || value < 0) throw new ConfigError('(environment)', [`${name}: expected seconds >= 0, got "${raw}"`]);
  return value * 1000;
}

function configLoader(enabled: boolean, env: NodeJS.ProcessEnv): { path: string | undefined; load: () => LbConfig } {
  const path = findConfigPath(env, process.cwd());
  if (path !== undefined) return { path, load: () => loadConfigFile(path, env) };
  if (enabled) {
    throw new ConfigError('(none)', [`(file): no config file; set RERANKER_CONFIG_PATH or create one of ${CONFIG_SEARCH_LIST.join(', ')}`]);
  }
  return { path: undefined, load: () => parseConfigText('model_list: []\n', '(defaults)', env) };
}

async function main(): Promise<void> {
  const env = process.env;
  const noProxy = applyProxyBypass(env);
  const logger = createLogger(env.LOG_LEVEL);
  const enabled = isTrue(env.RERANKER_LOAD_BALANCER_ENABLED);
  let source: ReturnType<typeof configLoader>;
  let config: LbConfig;
  let adminToken: string | undefined;
  let delayMs: number;
  let graceMs: number;
  try {
    source = configLoader(enabled, env);
    config = source.load();
    adminToken = adminTokenFrom(env);
    delayMs = seconds(env, 'RERANKER_SHUTDOWN_DELAY_SECONDS', 2);
    graceMs = seconds(env, 'RERANKER_SHUTDOWN_GRACE_SECONDS', 25);
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
  const port = Number(env.RERANKER_LB_PORT ?? env.PORT ?? 8000);
  const hostname = env.RERANKER_LB_HOST ?? '0.0.0.0';
  const running = await startSidecar({
    config,
    enabled,
    logger,
    port,
    hostname,
    load: source.load,
    watchPath: source.path,
    adminToken,
    watchRecheckMs: seconds(env, 'RERANKER_CONFIG_RECHECK_SECONDS', 30),
  });
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
    },
    'sidecar listening',
  );
  process.on('SIGHUP', () => running.sidecar.reloader.reload('signal'));
  const stop = (signal: string) => {
    logger.info({ signal, in_flight: running.sidecar.inFlight.count, delay_ms: delayMs, grace_ms: graceMs }, 'shutting down: readiness off, draining');
    void running.shutdown(delayMs, graceMs).then(({ drained }) => {
      logger.info({ drained }, 'stopped');
      process.exit(0);
    });
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}

void main();
