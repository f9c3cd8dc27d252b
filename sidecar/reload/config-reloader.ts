/**
 * The one reload entry point. Every trigger (file watch, timer re-check, SIGHUP, admin call, the
 * Kubernetes ConfigMap watch) calls `reload`: load, validate, swap atomically — or refuse, log the
 * problem paths, count it, and keep the last good config serving.
 */
import { ConfigError } from '../errors.ts';
import type { LbConfig } from '../config/model.ts';
import type { Logger } from '../../common/logger.ts';
import type { ReloadResult } from '../metrics/metrics.ts';
import type { Clock } from '../../common/clock.ts';

export type ReloadTrigger = 'file' | 'timer' | 'signal' | 'admin' | 'kubernetes';

export interface ReloadOutcome {
  readonly result: ReloadResult;
  readonly hash: string;
  readonly generation: number;
  readonly problems?: readonly string[];
}

/** The last reload that did something (applied or refused), for /lb/stats. */
export interface LastReload {
  readonly result: 'success' | 'failure';
  readonly trigger: ReloadTrigger;
  readonly at: string;
  readonly problems?: readonly string[];
}

export interface ReloaderDeps {
  /** Reads and validates the config; throws ConfigError. */
  readonly load: () => LbConfig;
  readonly current: () => { readonly hash: string; readonly keyDigest: string; readonly generation: number };
  readonly apply: (config: LbConfig) => void;
  readonly logger: Logger;
  readonly count: (result: ReloadResult) => void;
  readonly clock: Clock;
}

export class ConfigReloader {
  readonly #deps: ReloaderDeps;
  #last: LastReload | undefined;

  constructor(deps: ReloaderDeps) {
    this.#deps = deps;
  }

  get last(): LastReload | undefined {
    return this.#last;
  }

  /** Loads from the configured source, or from `load` (the ConfigMap watch passes the API's text). */
  reload(trigger: ReloadTrigger, load: () => LbConfig = this.#deps.load): ReloadOutcome {
    const before = this.#deps.current();
    const at = new Date(this.#deps.clock.wallNow()).toISOString();
    let config: LbConfig;
    try {
      config = load();
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      this.#deps.count('failure');
      this.#last = { result: 'failure', trigger, at, problems: error.problems };
      this.#deps.logger.error(
        { trigger, problems: error.problems, kept_hash: before.hash },
        'config reload refused; the last good config keeps serving',
      );
      return { result: 'failure', hash: before.hash, generation: before.generation, problems: error.problems };
    }
    // The same YAML with other key material (a rotated or late-mounted Secret) is a change too.
    if (config.hash === before.hash && config.keyDigest === before.keyDigest) {
      this.#deps.count('unchanged');
      return { result: 'unchanged', hash: before.hash, generation: before.generation };
    }
    this.#deps.apply(config);
    this.#deps.count('success');
    this.#last = { result: 'success', trigger, at };
    const after = this.#deps.current();
    for (const warning of config.warnings) this.#deps.logger.warn({ source: config.source }, `config: ${warning}`);
    const keysOnly = config.hash === before.hash;
    this.#deps.logger.info(
      {
        trigger,
        hash: after.hash,
        generation: after.generation,
        previous_hash: before.hash,
        backends: config.backends.length,
        keys_changed_only: keysOnly,
      },
      'config reloaded',
    );
    return { result: 'success', hash: after.hash, generation: after.generation };
  }
}
