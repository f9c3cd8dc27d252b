/**
 * Where a sidecar's config comes from: exactly one source of truth.
 *
 * - `file`: the YAML file (RERANKER_CONFIG_PATH or the search list). Edits, SIGHUP, the admin call
 *   and the periodic re-check all read the file.
 * - `kubernetes`: the sidecar's own ConfigMap, through a watch on the API (RERANKER_CONFIGMAP_NAME).
 *   The API's latest text is the config; a mounted copy of the same ConfigMap (which the kubelet
 *   refreshes 60-120 s late) is read only at start, until the API's first version arrives, and
 *   never overrides it. Without a readable file the sidecar starts not ready and waits.
 * Every reload re-reads key files and the environment, so a rotated Secret is picked up.
 */
import { existsSync } from 'node:fs';
import { AWAITING_CONFIGMAP_SOURCE, CONFIG_FILE_KEY, loadConfigFile, parseConfigText } from '../config/load.ts';
import type { LbConfig } from '../config/model.ts';
import type { Env } from '../config/normalize.ts';
import { ConfigError } from '../errors.ts';

export type SourceKind = 'file' | 'kubernetes' | 'defaults';

export interface ConfigSource {
  readonly kind: SourceKind;
  /** The file to watch for changes (file source only). */
  readonly watchPath: string | undefined;
  /** The config to start on; throws ConfigError when there is none to start on. */
  initial(): LbConfig;
  /** The current config from the source of truth; throws ConfigError. */
  load(): LbConfig;
}

export function fileSource(path: string, env: Env): ConfigSource {
  return {
    kind: 'file',
    watchPath: path,
    initial: () => loadConfigFile(path, env),
    load: () => loadConfigFile(path, env),
  };
}

/** Built-in defaults: load balancing off, every call goes to the local backend. */
export function defaultsSource(env: Env): ConfigSource {
  const defaults = () => parseConfigText('model_list: []\n', '(defaults)', env);
  return { kind: 'defaults', watchPath: undefined, initial: defaults, load: defaults };
}

export class KubernetesSource implements ConfigSource {
  readonly kind = 'kubernetes' as const;
  readonly watchPath = undefined;
  readonly name: string;
  readonly #bootstrapPath: string | undefined;
  readonly #env: Env;
  #text: string | undefined;
  #received = false;

  constructor(configMap: { namespace: string; name: string }, bootstrapPath: string | undefined, env: Env) {
    this.name = `configmap ${configMap.namespace}/${configMap.name}`;
    this.#bootstrapPath = bootstrapPath;
    this.#env = env;
  }

  /** A new version from the API watch (`undefined`: the ConfigMap lacks the config key). */
  receive(text: string | undefined): void {
    this.#text = text;
    this.#received = true;
  }

  /** The mounted file, if it is there and valid; else an empty config that is not ready. */
  initial(): LbConfig {
    const path = this.#bootstrapPath;
    if (path !== undefined && existsSync(path)) {
      try {
        return loadConfigFile(path, this.#env);
      } catch (error) {
        if (!(error instanceof ConfigError)) throw error;
      }
    }
    return parseConfigText('model_list: []\n', AWAITING_CONFIGMAP_SOURCE, this.#env);
  }

  load(): LbConfig {
    if (!this.#received) {
      if (this.#bootstrapPath !== undefined) return loadConfigFile(this.#bootstrapPath, this.#env);
      throw new ConfigError(this.name, ['(source): the ConfigMap has not arrived through the API yet']);
    }
    if (this.#text === undefined) throw new ConfigError(this.name, [`data.${CONFIG_FILE_KEY}: missing`]);
    return parseConfigText(this.#text, this.name, this.#env);
  }
}
