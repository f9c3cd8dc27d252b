/** Reads, parses and validates a config file. Never throws anything but ConfigError. */
import { envValue } from '../../common/settings/environment.ts';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { load as loadYaml } from 'js-yaml';
import { ConfigError } from '../errors.ts';
import { configFileSchema } from '../../common/config-schema.ts';
import type { LbConfig } from './model.ts';
import { normalizeConfig, type Env } from './normalize.ts';
import { findUnknownKeys, formatIssues, issueMessage } from '../../common/issues.ts';

export { CONFIG_FILE_KEY } from '../../common/config-schema.ts';

/** Source name of the empty config a sidecar serves until its ConfigMap arrives through the API. */
export const AWAITING_CONFIGMAP_SOURCE = '(awaiting the ConfigMap)';

/** The seed service's search list, used when RERANKER_CONFIG_PATH is not set. */
export const CONFIG_SEARCH_LIST = [
  './reranker_config.yaml',
  './reranker_config.yml',
  './config.yaml',
  './config.yml',
  './litellm_config.yaml',
] as const;

export function findConfigPath(env: Env, cwd: string): string | undefined {
  const configured = envValue(env, 'RERANKER_CONFIG_PATH');
  if (configured !== undefined) return resolve(cwd, configured);
  for (const candidate of CONFIG_SEARCH_LIST) {
    const path = resolve(cwd, candidate);
    if (existsSync(path)) return path;
  }
  return undefined;
}

/** `litellm_settings` is merged under `router_settings` (router_settings wins); `taken` lists the keys it gave. */
function mergeLitellmSettings(doc: Record<string, unknown>): {
  merged: Record<string, unknown>;
  taken: ReadonlySet<PropertyKey>;
} {
  const litellm = doc.litellm_settings;
  if (litellm === null || typeof litellm !== 'object' || Array.isArray(litellm))
    return { merged: doc, taken: new Set() };
  const router = doc.router_settings;
  const routerObject = router !== null && typeof router === 'object' && !Array.isArray(router) ? router : {};
  const known = configFileSchema.shape.router_settings.unwrap().shape;
  const fromLitellm: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(litellm))
    if (key in known && !(key in routerObject)) fromLitellm[key] = value;
  return {
    merged: { ...doc, router_settings: { ...fromLitellm, ...routerObject } },
    taken: new Set(Object.keys(fromLitellm)),
  };
}

/** A problem in a key litellm_settings gave is named where the user wrote it. */
function wherePutBy(taken: ReadonlySet<PropertyKey>) {
  return (path: PropertyKey[]): PropertyKey[] =>
    path[0] === 'router_settings' && taken.has(path[1]!) ? ['litellm_settings', ...path.slice(1)] : path;
}

export function parseConfigText(text: string, source: string, env: Env): LbConfig {
  if (!/^\s*[^#\s]/m.test(text)) throw new ConfigError(source, ['(root): the file is empty']);
  let doc: unknown;
  try {
    doc = loadYaml(text);
  } catch (error) {
    throw new ConfigError(source, [`(yaml): ${(error as Error).message.split('\n')[0]}`]);
  }
  if (doc === null || doc === undefined) throw new ConfigError(source, ['(root): the file is empty']);
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new ConfigError(source, ['(root): expected a mapping']);
  const { merged, taken } = mergeLitellmSettings(doc as Record<string, unknown>);
  const parsed = configFileSchema.safeParse(merged, { error: issueMessage, reportInput: true });
  if (!parsed.success) throw new ConfigError(source, formatIssues(parsed.error, wherePutBy(taken)));
  const warnings = findUnknownKeys(configFileSchema, doc).map((path) => `${path}: unknown key, ignored`);
  const hash = createHash('sha256').update(text).digest('hex');
  const result = normalizeConfig({ file: parsed.data, env, hash, source, warnings });
  if ('problems' in result) throw new ConfigError(source, result.problems);
  return result.config;
}

export function loadConfigFile(path: string, env: Env): LbConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new ConfigError(path, [`(file): cannot read (${code})`]);
  }
  return parseConfigText(text, path, env);
}
