/**
 * The one reload entry point. Every trigger (file watch, SIGHUP, admin call, and later the
 * Kubernetes ConfigMap watch) calls `reload`: load, validate, swap atomically — or refuse, log the
 * problem paths, count it, and keep the last good config serving.
 */
import { ConfigError } from '../errors.ts';
import type { LbConfig } from '../config/model.ts';
import type { Logger } from '../server/logger.ts';
import type { ReloadResult } from '../metrics/metrics.ts';

export type ReloadTrigger = 'file' | 'timer' | 'signal' | 'admin' | 'kubernetes';

export interface ReloadOutcome {
  readonly result: ReloadResult;
  readonly hash: string;
  readonly generation: number;
  readonly problems?: readonly string[];
}

export interface ReloaderDeps {
  /** Reads and validates the config; throws ConfigError. */
  readonly load: () => LbConfig;
  readonly current: () => { readonly hash: string; readonly generation: number };
  readonly apply: (config: LbConfig) => void;
  readonly logger: Logger;
  readonly count: (result: ReloadResult) => void;
}

export class ConfigReloader {
  readonly #deps: ReloaderDeps;

  constructor(deps: ReloaderDeps) {
    this.#deps = deps;
  }

  /** Loads from the source; `text` (from the Kubernetes API) skips the file read. */
  reload(trigger: ReloadTrigger, load: () => LbConfig = this.#deps.load): ReloadOutcome {
    const before = this.#deps.current();
    let config: LbConfig;
    try {
      config = load();
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      this.#deps.count('failure');
      this.#deps.logger.error({ trigger, problems: error.problems, kept_hash: before.hash }, 'config reload refused; the last good config keeps serving');
      return { result: 'failure', hash: before.hash, generation: before.generation, problems: error.problems };
    }
    if (config.hash === before.hash) {
      this.#deps.count('unchanged');
      return { result: 'unchanged', hash: before.hash, generation: before.generation };
    }
    this.#deps.apply(config);
    this.#deps.count('success');
    const after = this.#deps.current();
    for (const warning of config.warnings) this.#deps.logger.warn({ source: config.source }, `config: ${warning}`);
    this.#deps.logger.info({ trigger, hash: after.hash, generation: after.generation, previous_hash: before.hash, backends: config.backends.length }, 'config reloaded');
    return { result: 'success', hash: after.hash, generation: after.generation };
  }
}
