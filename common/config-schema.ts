/**
 * The one schema of the sidecar's YAML config (the seed's LiteLLM-style format). Types, runtime
 * validation and the JSON Schema all come from here. Durations are in seconds, as in the seed.
 */
import { z } from 'zod';

/** The key of the config file in a ConfigMap (what the operator renders, what sidecars read). */
export const CONFIG_FILE_KEY = 'reranker_config.yaml';

export const API_FORMATS = ['native', 'cohere', 'jina', 'tei', 'vllm', 'infinity'] as const;
export type ApiFormat = (typeof API_FORMATS)[number];

export const STRATEGY_NAMES = [
  'weighted-random',
  'round-robin',
  'least-busy',
  'latency-based-routing',
  'priority-failover',
  'simple-shuffle',
  'usage-based-routing',
  'usage-based-routing-v2',
  'cost-based-routing',
] as const;
export type StrategyName = (typeof STRATEGY_NAMES)[number];

export const DEFAULT_RETRY_STATUS_CODES = [429, 500, 502, 503, 504] as const;

const seconds = z.number().min(0);
const positiveSeconds = z.number().positive();
const count = z.int().min(0);
const positiveCount = z.int().min(1);
const apiFormat = z.enum(API_FORMATS);

/** Settings a backend may carry either at entry level (the seed) or in litellm_params (LiteLLM). */
const perBackendLimits = {
  rpm: positiveCount.optional(),
  tpm: positiveCount.optional(),
  max_parallel_requests: positiveCount.optional(),
  timeout: positiveSeconds.optional(),
  api_format: apiFormat.optional(),
  /** Send the caller's Authorization header to this backend when it has no api_key (opt-in). */
  forward_client_authorization: z.boolean().optional(),
  /** Most documents one call may carry (default by api_format: tei 32, cohere 1000); larger calls are split. */
  max_documents_per_call: positiveCount.optional(),
  /** Most estimated tokens one call may carry (default: unlimited); larger calls are split. */
  max_tokens_per_call: positiveCount.optional(),
};

export const litellmParamsSchema = z.object({
  api_base: z.string().min(1).optional(),
  base_url: z.string().min(1).optional(),
  /** A literal key or `os.environ/NAME`. Never logged or shown. */
  api_key: z.string().optional(),
  /** A file holding the key (e.g. a mounted Secret); read at load time. */
  api_key_file: z.string().min(1).optional(),
  /** Model name sent to the backend; a LiteLLM provider prefix such as `cohere/` is dropped. */
  model: z.string().min(1).optional(),
  input_cost_per_token: z.number().min(0).optional(),
  ...perBackendLimits,
});

export const modelEntrySchema = z
  .object({
    model_name: z.string().min(1),
    litellm_params: litellmParamsSchema,
    weight: z.number().min(0).default(1),
    priority: z.int().default(0),
    health_check_enabled: z.boolean().default(true),
    health_check_interval: seconds.optional(),
    model_info: z.record(z.string(), z.unknown()).optional(),
    ...perBackendLimits,
  })
  .refine((entry) => entry.litellm_params.api_base ?? entry.litellm_params.base_url, {
    message: 'expected api_base (or base_url)',
    path: ['litellm_params', 'api_base'],
  });

export const localBackendSchema = z.object({
  api_base: z.string().min(1).optional(),
  api_format: apiFormat.optional(),
  api_key: z.string().optional(),
  timeout: positiveSeconds.optional(),
  forward_client_authorization: z.boolean().optional(),
});

export const CANARY_ACTIONS = ['flag', 'eject'] as const;

/** A fixed query and documents sent to every backend to compare their rankings (model consistency). */
export const canarySchema = z.object({
  /** Seconds between canary rounds; 0 turns the canary off. */
  interval: seconds.default(0),
  query: z.string().min(1).max(2048).optional(),
  documents: z.array(z.string().min(1).max(4096)).min(3).max(100).optional(),
  /** Lowest Kendall rank correlation with the pool's majority that still counts as consistent. */
  threshold: z.number().min(-1).max(1).default(0.6),
  /** flag: shown in stats and metrics only; eject: also not eligible until a later round agrees. */
  action: z.enum(CANARY_ACTIONS).default('flag'),
  /** Seconds a canary call may take. */
  timeout: positiveSeconds.default(10),
});

export const routerSettingsSchema = z.object({
  routing_strategy: z.enum(STRATEGY_NAMES).default('weighted-random'),
  num_retries: count.default(2),
  retry_delay: seconds.default(0.5),
  retry_on_status_codes: z.array(z.int().min(400).max(599)).default([...DEFAULT_RETRY_STATUS_CODES]),
  fallback_to_local: z.boolean().default(true),
  default_timeout: positiveSeconds.default(30),
  timeout: positiveSeconds.optional(),
  health_check_interval: seconds.default(60),
  health_check_timeout: positiveSeconds.default(5),
  health_check_unhealthy_threshold: positiveCount.default(2),
  health_check_healthy_threshold: positiveCount.default(2),
  /** Health checks running at once, at most (the rest wait their turn). */
  health_check_concurrency: positiveCount.max(10_000).default(64),
  enable_request_logging: z.boolean().default(true),
  allowed_fails: count.default(3),
  cooldown_time: positiveSeconds.default(5),
  failure_threshold_percent: z.number().min(1).max(100).default(50),
  failure_threshold_min_requests: positiveCount.default(20),
  failure_window: positiveSeconds.default(60),
  retry_budget_percent: z.number().min(0).max(100).default(20),
  /** Retries per second always allowed, whatever the percentage (Finagle's minRetriesPerSec). */
  retry_budget_min: count.default(10),
  max_request_body_bytes: positiveCount.default(10 * 1024 * 1024),
  /** A backend answer larger than this is a backend failure (the attempt fails over). */
  max_response_bytes: positiveCount.default(20 * 1024 * 1024),
  /** Time to open a connection to a backend (TCP, and TLS for https). */
  connect_timeout: positiveSeconds.default(2),
  /** Default for every backend: pass the caller's Authorization to backends without an api_key. */
  forward_client_authorization: z.boolean().default(false),
  /** Time for a client to send the request headers. */
  client_header_timeout: positiveSeconds.default(10),
  /** Time for a client to send the whole request (headers and body). */
  client_body_timeout: positiveSeconds.default(30),
  /** Longest time an answer may make no progress because the client does not read it. */
  send_timeout: positiveSeconds.default(10),
  /** How long an idle keep-alive connection from a client stays open. */
  keepalive_timeout: positiveSeconds.default(65),
  latency_decay_time: positiveSeconds.default(5),
  /** rpm/tpm/max_parallel_requests are pool-wide; each sidecar enforces its share (limit / count). */
  sidecar_count: positiveCount.default(1),
  /** Split calls of at least this many documents over the eligible backends, even within their limits. */
  shard_min_documents: z.int().min(2).optional(),
  /** Send a second attempt when the first has not answered by hedge_after (or the pool's recent p95). */
  hedging: z.boolean().default(false),
  /** Seconds after which an unanswered attempt is hedged; default the pool's recent p95 latency. */
  hedge_after: positiveSeconds.optional(),
  /** Hedges may be at most this % of the calls started over the last 10 s (they also spend the retry budget). */
  hedge_budget_percent: z.number().min(0).max(100).default(10),
  canary: canarySchema.optional(),
  local_backend: localBackendSchema.optional(),
});

export const configFileSchema = z.object({
  model_list: z.array(modelEntrySchema).default([]),
  router_settings: routerSettingsSchema.default(routerSettingsSchema.parse({})),
  litellm_settings: z.record(z.string(), z.unknown()).optional(),
  environment_variables: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional(),
  general_settings: z.record(z.string(), z.unknown()).optional(),
});

export type ConfigFile = z.infer<typeof configFileSchema>;
export type ModelEntry = z.infer<typeof modelEntrySchema>;
export type RouterSettingsInput = z.infer<typeof routerSettingsSchema>;

/** JSON Schema of the config file (what editors and the operator's CRD build on). */
export function configJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(configFileSchema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
}
