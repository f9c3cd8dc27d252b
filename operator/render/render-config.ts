/**
 * Pure: a RerankerPool and its discovered endpoints -> the sidecar's reranker_config.yaml, in the
 * seed's format. Keys are written in a fixed order and backends sorted, so the same inputs always
 * give the same bytes (same hash, no spurious reloads).
 */
import { createHash } from 'node:crypto';
import { dump } from 'js-yaml';
import type { DiscoveryEntry, PoolSpec, RerankerPool, StaticBackend } from '../crd/pool-schema.ts';
import { ROUTING_KEYS } from '../crd/pool-schema.ts';
import type { DiscoveredEndpoint } from './discovery.ts';
import { secretEnvName } from './secret-env.ts';

export { CONFIG_FILE_KEY as CONFIG_KEY } from '../../common/config-schema.ts';

/** The sidecar's own defaults (sidecar/config/schema.ts, normalize.ts); keys equal to them are not rendered. */
const SIDECAR_DEFAULTS = { weight: 1, priority: 0, apiFormat: 'native' } as const;

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
  /** Environment variables the sidecar needs for the keys (name -> Secret reference). */
}

type Settings = Pick<StaticBackend, 'apiFormat' | 'model' | 'weight' | 'priority' | 'rpm' | 'tpm' | 'maxParallelRequests' | 'timeout' | 'healthCheckEnabled' | 'healthCheckInterval' | 'maxDocumentsPerCall' | 'maxTokensPerCall' | 'apiKeySecretRef'>;

function entry(name: string, apiBase: string, s: Settings): Record<string, unknown> {
  // Keys equal to the sidecar's defaults are left out (weight 1, priority 0, api_format native
  // when no model prefix could imply another): about 30 bytes less per backend.
  const params: Record<string, unknown> = { api_base: apiBase };
  if (s.apiFormat !== SIDECAR_DEFAULTS.apiFormat || s.model !== undefined) params.api_format = s.apiFormat;
  if (s.model !== undefined) params.model = s.model;
  if (s.apiKeySecretRef !== undefined) {
    const env = secretEnvName(s.apiKeySecretRef);
    params.api_key = `os.environ/${env}`;
  }
  const out: Record<string, unknown> = { model_name: name, litellm_params: params };
  if (s.weight !== SIDECAR_DEFAULTS.weight) out.weight = s.weight;
  if (s.priority !== SIDECAR_DEFAULTS.priority) out.priority = s.priority;
  if (s.rpm !== undefined) out.rpm = s.rpm;
  if (s.tpm !== undefined) out.tpm = s.tpm;
  if (s.maxParallelRequests !== undefined) out.max_parallel_requests = s.maxParallelRequests;
  if (s.timeout !== undefined) out.timeout = s.timeout;
  if (s.healthCheckEnabled !== undefined) out.health_check_enabled = s.healthCheckEnabled;
  if (s.healthCheckInterval !== undefined) out.health_check_interval = s.healthCheckInterval;
  if (s.maxDocumentsPerCall !== undefined) out.max_documents_per_call = s.maxDocumentsPerCall;
  if (s.maxTokensPerCall !== undefined) out.max_tokens_per_call = s.maxTokensPerCall;
  return out;
}

function routerSettings(spec: PoolSpec): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const routing = spec.routing as Record<string, unknown>;
  for (const key of [...ROUTING_KEYS.keys()].sort()) {
    if (routing[key] !== undefined) out[ROUTING_KEYS.get(key)!] = routing[key];
  }
  return out;
}

export interface DiscoveryResult {
  readonly entry: DiscoveryEntry;
  readonly endpoints: readonly DiscoveredEndpoint[];
}

export function renderConfig(pool: RerankerPool, discovered: readonly DiscoveryResult[]): RenderedConfig {
  const statics = [...pool.spec.backends].sort((a, b) => (a.name < b.name ? -1 : 1)).map((b) => entry(b.name, b.apiBase.replace(/\/+$/, ''), b));
  const dynamic: Record<string, unknown>[] = [];
  let discoveredCount = 0;
  let readyDiscovered = 0;
  for (const { entry: d, endpoints } of [...discovered].sort((a, b) => (a.entry.service < b.entry.service ? -1 : 1))) {
    discoveredCount += endpoints.length;
    for (const endpoint of endpoints) {
      if (!endpoint.ready) continue;
      readyDiscovered++;
      dynamic.push(entry(endpoint.name, endpoint.apiBase, d));
    }
  }
  const doc = { model_list: [...statics, ...dynamic], router_settings: routerSettings(pool.spec) };
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
