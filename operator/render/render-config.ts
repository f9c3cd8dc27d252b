/**
 * Pure: a RerankerPool and its discovered endpoints -> the sidecar's reranker_config.yaml, in the
 * seed's format. Keys are written in a fixed order and backends sorted, so the same inputs always
 * give the same bytes (same hash, no spurious reloads).
 *
 * `routing.discoveryMode: sidecar` (the default): the config carries settings, static backends and
 * one discovery template per entry; each sidecar merges the endpoints itself, so the ConfigMap
 * changes only when the spec does. `rendered`: every ready endpoint is written in as a backend.
 * The endpoints are counted for status either way.
 */
import { createHash } from 'node:crypto';
import { dump } from 'js-yaml';
import { EITHER_SETTINGS, ENTRY_SETTINGS, PARAMS_SETTINGS } from '../../common/settings/backend-settings.ts';
import { ROUTER_SETTINGS } from '../../common/settings/router-settings.ts';
import { toSidecarSettings } from '../../common/settings/setting.ts';
import type { DiscoveryEntry, RerankerPool, SettingValues } from '../crd/pool-schema.ts';
import type { DiscoveredEndpoint } from '../../common/discovery/endpoint-slices.ts';
import { secretEnvName } from './secret-env.ts';

export { CONFIG_FILE_KEY as CONFIG_KEY } from '../../common/config-schema.ts';

export function configMapNameOf(poolName: string): string {
  return `${poolName}-reranker-config`;
}

export interface RenderedConfig {
  readonly text: string;
  /** sha256 of `text`: what the sidecar reports as its loaded config hash. */
  readonly hash: string;
  readonly staticCount: number;
  readonly discoveredCount: number;
  readonly readyCount: number;
}

type Backend = SettingValues & { readonly apiKeySecretRef?: { name: string; key: string } | undefined };

/**
 * One model_list entry. Every setting maps through its one declaration (CRD units -> the seed's:
 * "30s" -> 30); values equal to the sidecar's defaults are left out (about 30 bytes less a backend).
 */
function entry(name: string, apiBase: string, b: Backend): Record<string, unknown> {
  const params: Record<string, unknown> = { api_base: apiBase, ...toSidecarSettings(PARAMS_SETTINGS, b) };
  if (b.apiKeySecretRef !== undefined) params.api_key = `os.environ/${secretEnvName(b.apiKeySecretRef)}`;
  const out: Record<string, unknown> = {
    model_name: name,
    litellm_params: params,
    ...toSidecarSettings(ENTRY_SETTINGS, b),
    ...toSidecarSettings(EITHER_SETTINGS, b),
  };
  return out;
}

/** spec.redis -> LiteLLM's router_settings names; the password as a reference to the container's env, never the value. */
function redisSettings(pool: RerankerPool): Record<string, string> {
  const redis = (pool.spec as { redis?: { address: string; passwordSecretRef?: { name: string; key: string } } }).redis;
  if (redis === undefined) return {};
  const url = /^rediss?:\/\//.test(redis.address) ? redis.address : `redis://${redis.address}`;
  const out: Record<string, string> = {
    redis_url: url,
    redis_key_prefix: `${pool.metadata.namespace ?? 'default'}/${pool.metadata.name}`,
  };
  if (redis.passwordSecretRef !== undefined)
    out.redis_password = `os.environ/${secretEnvName(redis.passwordSecretRef)}`;
  return out;
}

export interface DiscoveryResult {
  readonly entry: DiscoveryEntry;
  readonly endpoints: readonly DiscoveredEndpoint[];
}

/** A discovery entry as the sidecar's template: what names its endpoints, then its backend settings. */
function template(d: DiscoveryEntry): Record<string, unknown> {
  const { model_name: _name, litellm_params: params, ...rest } = entry('', '', d);
  const { api_base: _base, ...kept } = params as Record<string, unknown>;
  const where = {
    service: d.service,
    ...(d.portName === undefined ? {} : { port_name: d.portName }),
    ...(d.port === undefined ? {} : { port: d.port }),
    ...(d.scheme === 'http' ? {} : { scheme: d.scheme }),
  };
  return { ...where, ...rest, ...(Object.keys(kept).length === 0 ? {} : { litellm_params: kept }) };
}

export function renderConfig(pool: RerankerPool, discovered: readonly DiscoveryResult[]): RenderedConfig {
  const sidecarMode = (pool.spec.routing.discoveryMode ?? 'sidecar') === 'sidecar';
  const statics = [...pool.spec.backends]
    .sort((a, b) => (a.name < b.name ? -1 : 1))
    .map((b) => entry(b.name, b.apiBase.replace(/\/+$/, ''), b));
  const dynamic: Record<string, unknown>[] = [];
  let discoveredCount = 0;
  let readyDiscovered = 0;
  for (const { entry: d, endpoints } of [...discovered].sort((a, b) => (a.entry.service < b.entry.service ? -1 : 1))) {
    discoveredCount += endpoints.length;
    for (const endpoint of endpoints) {
      if (!endpoint.ready) continue;
      readyDiscovered++;
      if (!sidecarMode) dynamic.push(entry(endpoint.name, endpoint.apiBase, d));
    }
  }
  const templates = sidecarMode
    ? [...pool.spec.discovery].sort((a, b) => (a.service < b.service ? -1 : 1)).map(template)
    : [];
  const doc = {
    model_list: [...statics, ...dynamic],
    ...(templates.length === 0 ? {} : { discovery: templates }),
    router_settings: { ...toSidecarSettings(ROUTER_SETTINGS, pool.spec.routing), ...redisSettings(pool) },
  };
  const header = `# Rendered by the reranker-lb operator from RerankerPool ${pool.metadata.namespace}/${pool.metadata.name}. Do not edit: changes are overwritten.\n`;
  const text = header + dump(doc, { lineWidth: -1, noRefs: true, sortKeys: false });
  return {
    text,
    hash: createHash('sha256').update(text).digest('hex'),
    staticCount: statics.length,
    discoveredCount,
    readyCount: statics.length + readyDiscovered,
  };
}
