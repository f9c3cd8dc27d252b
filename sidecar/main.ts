/** The sidecar process: environment -> config -> server; exits with a clear message on bad config. */
import { ConfigError } from './errors.ts';
import { CONFIG_SEARCH_LIST, findConfigPath, loadConfigFile, parseConfigText } from './config/load.ts';
import type { LbConfig } from './config/model.ts';
import { applyProxyBypass } from './net/no-proxy.ts';
import { createLogger } from './server/logger.ts';
import { startSidecar } from './server/sidecar.ts';

function isTrue(value: string | undefined): boolean {
  return value !== undefined && ['1', 'true', 'yes', 'on'].includes(value.trim().toLowerCase());
}

function loadStartupConfig(enabled: boolean, env: NodeJS.ProcessEnv): LbConfig {
  const path = findConfigPath(env, process.cwd());
  if (path !== undefined) return loadConfigFile(path, env);
  if (enabled) {
    throw new ConfigError('(none)', [`(file): no config file; set RERANKER_CONFIG_PATH or create one of ${CONFIG_SEARCH_LIST.join(', ')}`]);
  }
  return parseConfigText('model_list: []\n', '(defaults)', env);
}

async function main(): Promise<void> {
  const env = process.env;
  const noProxy = applyProxyBypass(env);
  const logger = createLogger(env.LOG_LEVEL);
  const enabled = isTrue(env.RERANKER_LOAD_BALANCER_ENABLED);
  let config: LbConfig;
  try {
    config = loadStartupConfig(enabled, env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`reranker-lb: ${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  for (const warning of config.warnings) logger.warn({ source: config.source }, `config: ${warning}`);
  const port = Number(env.RERANKER_LB_PORT ?? env.PORT ?? 8000);
  const hostname = env.RERANKER_LB_HOST ?? '0.0.0.0';
  const running = await startSidecar({ config, enabled, logger, port, hostname });
  logger.info(
    {
      url: running.url,
      load_balancer_enabled: enabled,
      config_source: config.source,
      config_hash: config.hash,
      backends: config.backends.length,
      routing_strategy: config.router.strategy,
      no_proxy: noProxy,
    },
    'sidecar listening',
  );
  const stop = (signal: string) => {
    logger.info({ signal }, 'shutting down');
    running.sidecar.beginShutdown();
    void running.stop().then(() => process.exit(0));
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}

void main();
