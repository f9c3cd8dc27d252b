/**
 * A schema-valid config file + environment -> the config the sidecar runs on. Pure except for
 * reading `api_key_file`s (injectable as `readKeyFile`).
 */
import { readFileSync } from 'node:fs';
import { API_FORMATS, type ApiFormat } from '../../common/config-schema.ts';
import type { ConfigFile, ModelEntry } from '../../common/config-schema.ts';
import type { BackendSpec, DiscoveryTemplate, LbConfig, LocalBackendSpec, RouterSettings } from './model.ts';
import { redact, safeUrl } from '../../common/redact.ts';
import { createHash } from 'node:crypto';
import { envValue } from '../../common/settings/environment.ts';
import { redisTarget } from './redis-settings.ts';

/**
 * Documents per call a backend accepts when `max_documents_per_call` is not set: TEI's
 * `--max-client-batch-size` default and Cohere's documented cap. Others: unlimited.
 */
const DEFAULT_MAX_DOCUMENTS: Readonly<Partial<Record<ApiFormat, number>>> = { tei: 32, cohere: 1000 };

/** The metric a backend's /metrics counts waiting calls in, when `queue_metric` is not set. */
const DEFAULT_QUEUE_METRIC: Readonly<Partial<Record<ApiFormat, string>>> = {
  tei: 'te_queue_size',
  vllm: 'vllm:num_requests_waiting',
};

/**
 * Seconds (the seed's unit) -> whole milliseconds: Node's server timeouts must be integers, and
 * 1.005 * 1000 is 1004.9999999999999. A positive value never rounds to 0 (which means "no limit").
 */
function ms(seconds: number): number {
  return seconds > 0 ? Math.max(1, Math.round(seconds * 1000)) : 0;
}

export type Env = Readonly<Record<string, string | undefined>>;

const ENV_REF = 'os.environ/';

/** LiteLLM provider prefixes in `litellm_params.model`, and the api_format each implies. */
const PROVIDER_FORMATS: Readonly<Record<string, ApiFormat>> = {
  cohere: 'cohere',
  cohere_chat: 'cohere',
  jina_ai: 'jina',
  huggingface: 'tei',
  hosted_vllm: 'vllm',
  vllm: 'vllm',
  infinity: 'infinity',
};

interface NormalizeInput {
  readonly file: ConfigFile;
  readonly env: Env;
  readonly hash: string;
  readonly source: string;
  readonly warnings: readonly string[];
  /** Reads a key file; injected so the function stays testable. */
  readonly readKeyFile?: (path: string) => string;
}

function splitProvider(model: string | undefined): { model: string | undefined; format: ApiFormat | undefined } {
  if (model === undefined) return { model, format: undefined };
  const slash = model.indexOf('/');
  const format = slash > 0 ? PROVIDER_FORMATS[model.slice(0, slash)] : undefined;
  return format === undefined ? { model, format } : { model: model.slice(slash + 1), format };
}

function lookupEnv(name: string, file: ConfigFile, env: Env): string | undefined {
  const fromFile = file.environment_variables?.[name];
  return fromFile === undefined ? env[name] : String(fromFile);
}

function resolveKey(
  params: ModelEntry['litellm_params'],
  file: ConfigFile,
  env: Env,
  readKeyFile: (path: string) => string,
): { apiKey: string | undefined; keyProblem: string | undefined } {
  if (params.api_key_file !== undefined) {
    try {
      return { apiKey: readKeyFile(params.api_key_file).trim(), keyProblem: undefined };
    } catch (error) {
      const reason = (error as NodeJS.ErrnoException).code ?? 'unreadable';
      return { apiKey: undefined, keyProblem: `api_key_file ${params.api_key_file} cannot be read (${reason})` };
    }
  }
  const raw = params.api_key;
  if (raw === undefined || !raw.startsWith(ENV_REF)) return { apiKey: raw, keyProblem: undefined };
  const name = raw.slice(ENV_REF.length);
  const value = lookupEnv(name, file, env);
  if (value === undefined || value === '') {
    return { apiKey: undefined, keyProblem: `api_key: environment variable ${name} is not set` };
  }
  return { apiKey: value, keyProblem: undefined };
}

function parseBase(raw: string, path: string, problems: string[]): string {
  try {
    const url = new URL(raw);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('protocol');
    return raw.replace(/\/+$/, '');
  } catch {
    // Never the raw value: a URL may carry credentials (scheme://user:password@host).
    problems.push(`${path}: expected an http(s) URL, got "${redact(safeUrl(raw))}"`);
    return raw;
  }
}

function backendSpec(
  entry: ModelEntry,
  index: number,
  input: NormalizeInput,
  defaultTimeoutMs: number,
  defaultHealthIntervalMs: number,
  share: (limit: number | undefined) => number | undefined,
  sidecarCount: number,
  problems: string[],
): BackendSpec {
  const params = entry.litellm_params;
  const path = `model_list[${index}].litellm_params.${params.api_base === undefined ? 'base_url' : 'api_base'}`;
  const apiBase = parseBase((params.api_base ?? params.base_url)!, path, problems);
  const provider = splitProvider(params.model);
  const key = resolveKey(params, input.file, input.env, input.readKeyFile ?? ((p) => readFileSync(p, 'utf8')));
  const timeout = entry.timeout ?? params.timeout;
  const interval = entry.health_check_interval;
  const apiFormat = entry.api_format ?? params.api_format ?? provider.format ?? 'native';
  const poolLimits = {
    rpm: entry.rpm ?? params.rpm,
    tpm: entry.tpm ?? params.tpm,
    maxParallelRequests: entry.max_parallel_requests ?? params.max_parallel_requests,
  };
  return {
    id: `${apiBase}|${entry.model_name}`,
    name: entry.model_name,
    apiBase,
    apiFormat,
    apiKey: key.apiKey,
    keyProblem: key.keyProblem,
    model: provider.model,
    weight: entry.weight,
    priority: entry.priority,
    rpm: share(poolLimits.rpm),
    tpm: share(poolLimits.tpm),
    maxParallelRequests: share(poolLimits.maxParallelRequests),
    poolLimits,
    timeoutMs: timeout === undefined ? defaultTimeoutMs : ms(timeout),
    healthCheckEnabled: entry.health_check_enabled,
    healthCheckIntervalMs: interval === undefined ? defaultHealthIntervalMs : ms(interval),
    costPerToken: params.input_cost_per_token,
    forwardCallerAuthorization:
      entry.forward_client_authorization ??
      params.forward_client_authorization ??
      input.file.router_settings.forward_client_authorization,
    maxDocumentsPerCall:
      entry.max_documents_per_call ?? params.max_documents_per_call ?? DEFAULT_MAX_DOCUMENTS[apiFormat],
    queueMetric: entry.queue_metric ?? params.queue_metric ?? DEFAULT_QUEUE_METRIC[apiFormat],
    limitsConfigured: {
      maxDocuments: (entry.max_documents_per_call ?? params.max_documents_per_call) !== undefined,
      maxParallel: (entry.max_parallel_requests ?? params.max_parallel_requests) !== undefined,
    },
    sidecarCount,
    maxTokensPerCall: entry.max_tokens_per_call ?? params.max_tokens_per_call,
  };
}

function localSpec(file: ConfigFile, env: Env, defaultTimeoutMs: number, problems: string[]): LocalBackendSpec {
  const local = file.router_settings.local_backend;
  const rawBase = envValue(env, 'RERANKER_LOCAL_BACKEND_URL') ?? local.api_base;
  const rawFormat = envValue(env, 'RERANKER_LOCAL_BACKEND_FORMAT') ?? local.api_format ?? 'native';
  const formats: readonly string[] = API_FORMATS;
  if (!formats.includes(rawFormat)) {
    problems.push(`RERANKER_LOCAL_BACKEND_FORMAT: expected one of ${formats.join(', ')}, got "${rawFormat}"`);
  }
  const apiKey = envValue(env, 'RERANKER_LOCAL_BACKEND_API_KEY') ?? local.api_key;
  return {
    apiBase: parseBase(rawBase, 'router_settings.local_backend.api_base', problems),
    apiFormat: rawFormat as ApiFormat,
    apiKey: apiKey?.startsWith(ENV_REF) ? lookupEnv(apiKey.slice(ENV_REF.length), file, env) : apiKey,
    timeoutMs: local.timeout === undefined ? defaultTimeoutMs : ms(local.timeout),
    forwardCallerAuthorization: local.forward_client_authorization ?? file.router_settings.forward_client_authorization,
  };
}

function routerSettings(file: ConfigFile): RouterSettings {
  const r = file.router_settings;
  return {
    strategy: r.routing_strategy,
    numRetries: r.num_retries,
    retryDelayMs: ms(r.retry_delay),
    retryOnStatus: new Set(r.retry_on_status_codes),
    fallbackToLocal: r.fallback_to_local,
    defaultTimeoutMs: ms(r.timeout ?? r.default_timeout),
    healthCheck: {
      intervalMs: ms(r.health_check_interval),
      timeoutMs: ms(r.health_check_timeout),
      unhealthyThreshold: r.health_check_unhealthy_threshold,
      healthyThreshold: r.health_check_healthy_threshold,
      concurrency: r.health_check_concurrency,
    },
    requestLogging: r.enable_request_logging,
    breaker: {
      allowedFails: r.allowed_fails,
      cooldownMs: ms(r.cooldown_time),
      failureThresholdPercent: r.failure_threshold_percent,
      failureThresholdMinRequests: r.failure_threshold_min_requests,
      windowMs: ms(r.failure_window),
    },
    retryBudget: { percent: r.retry_budget_percent, min: r.retry_budget_min },
    maxBodyBytes: r.max_request_body_bytes,
    maxResponseBytes: r.max_response_bytes,
    connectTimeoutMs: ms(r.connect_timeout),
    server: {
      headerTimeoutMs: ms(r.client_header_timeout),
      bodyTimeoutMs: ms(r.client_body_timeout),
      sendTimeoutMs: ms(r.send_timeout),
      keepAliveTimeoutMs: ms(r.keepalive_timeout),
    },
    latencyDecayMs: ms(r.latency_decay_time),
    shardMinDocuments: r.shard_min_documents,
    hedging: {
      enabled: r.hedging,
      afterMs: r.hedge_after === undefined ? undefined : ms(r.hedge_after),
      budgetPercent: r.hedge_budget_percent,
    },
    canary: {
      intervalMs: ms(r.canary.interval),
      query: r.canary.query,
      documents: r.canary.documents,
      threshold: r.canary.threshold,
      action: r.canary.action,
      timeoutMs: ms(r.canary.timeout),
    },
    flow: {
      queueTimeoutMs: ms(r.queue_timeout),
      queueMaxLength: r.queue_max_length,
      maxTenants: r.max_tenants,
      tenantMaxInFlight: r.tenant_max_in_flight,
      saturationQueue: r.saturation_queue,
    },
    loadSignal: { intervalMs: ms(r.load_signal_interval), scrape: r.scrape_backend_metrics },
    discoveryMode: r.discovery_mode,
    discoveryHealthChecks: r.discovery_health_checks,
    outlier: {
      consecutiveFailures: r.outlier_consecutive_failures,
      baseEjectionMs: ms(r.outlier_base_ejection_time),
      maxEjectionMs: ms(r.outlier_max_ejection_time),
      maxEjectionPercent: r.outlier_max_ejection_percent,
    },
  };
}

/** Stands in for a template's api_base until an endpoint gives it one. */
const TEMPLATE_BASE = 'http://discovered.invalid';

/**
 * Discovery templates, normalized once per load like a model_list entry (keys resolved, defaults
 * applied); each endpoint then only sets its name and api_base. Discovered endpoints are checked
 * actively only with discovery_health_checks.
 */
function discoveryTemplates(
  input: NormalizeInput,
  router: RouterSettings,
  share: (limit: number | undefined) => number | undefined,
  sidecars: number,
  problems: string[],
): DiscoveryTemplate[] {
  const seen = new Set<string>();
  return input.file.discovery.map((t, i) => {
    if (seen.has(t.service))
      problems.push(`discovery[${i}].service: "${t.service}" is already discovered by an earlier entry`);
    seen.add(t.service);
    if (t.port !== undefined && t.port_name !== undefined)
      problems.push(`discovery[${i}]: set port or port_name, not both`);
    const entry = {
      ...t,
      model_name: t.service,
      litellm_params: { ...t.litellm_params, api_base: TEMPLATE_BASE, base_url: undefined },
    } as unknown as ModelEntry;
    const spec = backendSpec(
      entry,
      i,
      input,
      router.defaultTimeoutMs,
      router.healthCheck.intervalMs,
      share,
      sidecars,
      problems,
    );
    return {
      target: { service: t.service, portName: t.port_name, port: t.port, scheme: t.scheme },
      spec: { ...spec, healthCheckEnabled: spec.healthCheckEnabled && router.discoveryHealthChecks },
    };
  });
}

/** RERANKER_SIDECAR_COUNT (set by a deployment that knows its replicas) wins over the file. */
function sidecarCount(input: NormalizeInput, problems: string[]): number {
  const raw = envValue(input.env, 'RERANKER_SIDECAR_COUNT');
  if (raw === undefined) return input.file.router_settings.sidecar_count;
  const count = Number(raw);
  if (Number.isInteger(count) && count >= 1) return count;
  problems.push(`RERANKER_SIDECAR_COUNT: expected an integer >= 1, got "${raw}"`);
  return 1;
}

/**
 * One name, one backend: names label metrics and stats, so entries that share a model_name (a
 * LiteLLM model group) are told apart by their host — `reranker@10.0.0.7:8000` — and, on the same
 * host, by their position. Identity across reloads stays api_base + model_name.
 */
function uniqueNames(
  backends: BackendSpec[],
  warnings: readonly string[],
): { backends: BackendSpec[]; warnings: readonly string[] } {
  const count = new Map<string, number>();
  for (const b of backends) count.set(b.name, (count.get(b.name) ?? 0) + 1);
  const shared = [...count].filter(([, n]) => n > 1).map(([name]) => name);
  if (shared.length === 0) return { backends, warnings };
  const taken = new Set(backends.map((b) => b.name));
  const renamed = backends.map((b) => {
    if ((count.get(b.name) ?? 0) < 2) return b;
    let name = `${b.name}@${new URL(b.apiBase).host}`;
    for (let k = 2; taken.has(name); k++) name = `${b.name}@${new URL(b.apiBase).host}#${k}`;
    taken.add(name);
    return { ...b, name };
  });
  const note = `model_name ${shared.map((n) => `"${n}"`).join(', ')} is used by several entries; they are shown as <model_name>@<host> in stats, logs and metrics`;
  return { backends: renamed, warnings: [...warnings, note] };
}

/** A digest of every resolved key, so a rotated Secret is a change even when the YAML is not. */
function keyDigestOf(
  backends: readonly BackendSpec[],
  local: LocalBackendSpec,
  redisPassword: string | undefined,
): string {
  const hash = createHash('sha256');
  for (const b of backends) hash.update(`${b.id}\0${b.apiKey ?? ''}\0${b.keyProblem ?? ''}\0`);
  hash.update(`local\0${local.apiKey ?? ''}\0redis\0${redisPassword ?? ''}`);
  return hash.digest('hex');
}

/** Returns the config, or the list of problems (each starting with its path). */
export function normalizeConfig(input: NormalizeInput): { config: LbConfig } | { problems: string[] } {
  const problems: string[] = [];
  const router = routerSettings(input.file);
  const sidecars = sidecarCount(input, problems);
  const share = (limit: number | undefined) =>
    limit === undefined ? undefined : Math.max(1, Math.ceil(limit / sidecars));
  const backends = input.file.model_list.map((entry, i) =>
    backendSpec(entry, i, input, router.defaultTimeoutMs, router.healthCheck.intervalMs, share, sidecars, problems),
  );
  const seen = new Map<string, number>();
  backends.forEach((backend, i) => {
    const first = seen.get(backend.id);
    if (first !== undefined) {
      problems.push(`model_list[${i}]: duplicates model_list[${first}] (same model_name and api_base)`);
    }
    seen.set(backend.id, i);
  });
  const discovery = discoveryTemplates(input, router, share, sidecars, problems);
  const local = localSpec(input.file, input.env, router.defaultTimeoutMs, problems);
  const redis = redisTarget(input.file, (name) => lookupEnv(name, input.file, input.env), problems);
  if (problems.length > 0) return { problems };
  const named = uniqueNames(backends, input.warnings);
  return {
    config: {
      backends: named.backends,
      discovery,
      router,
      local,
      hash: input.hash,
      keyDigest: keyDigestOf([...backends, ...discovery.map((d) => d.spec)], local, redis?.password),
      source: input.source,
      warnings: named.warnings,
      sidecarCount: sidecars,
      redis,
    },
  };
}
