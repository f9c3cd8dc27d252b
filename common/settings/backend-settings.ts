/**
 * Every per-backend setting, declared once (see setting.ts). Three places in a `model_list[]`
 * entry: the entry itself, its `litellm_params`, or either (the seed writes limits on the entry,
 * LiteLLM in litellm_params). A RerankerPool's `backends[]` and `discovery[]` carry the CRD twins.
 */
import { API_FORMATS } from './names.ts';
import { boolean, decimal, ignored, integer, oneOf, seconds, sidecarText, text, wholeInCrd } from './kinds.ts';

/** Keys of the entry itself. */
export const ENTRY_SETTINGS = {
  model_name: sidecarText({
    description:
      "The backend's name in stats, logs, headers and metric labels. Entries sharing one (a LiteLLM model group) are shown as <model_name>@<host:port>.",
    required: true,
    min: 1,
  }),
  weight: wholeInCrd({
    description:
      'Share of traffic relative to the other backends. Weight 0: used only when every candidate has weight 0.',
    min: 0,
    max: 1_000_000,
    default: 1,
    crdDefault: true,
  }),
  priority: integer({
    description: 'Lower is preferred by priority-failover (negative numbers too).',
    min: -1_000_000,
    max: 1_000_000,
    default: 0,
    crdDefault: true,
  }),
  health_check_enabled: boolean({ description: 'Check this backend actively (GET /health).', default: true }),
  health_check_interval: seconds({
    description: "Time between this backend's health checks; overrides the global interval; 0 turns them off.",
    min: 0,
    max: 86_400,
  }),
  model_info: ignored({ description: 'Accepted and ignored (LiteLLM compatibility).' }),
} as const;

/** Keys of `litellm_params`. */
export const PARAMS_SETTINGS = {
  api_base: sidecarText({
    description:
      "The backend's http(s) URL; a path prefix is kept (http://h:8000/prefix -> /prefix/rerank). Required (or base_url).",
    min: 1,
  }),
  base_url: sidecarText({ description: 'Another name of api_base.', min: 1 }),
  api_key: sidecarText({
    description:
      'Sent as Authorization: Bearer. os.environ/NAME reads the environment (or environment_variables); unset, the backend is unavailable and /lb/stats says why. Never logged or shown.',
  }),
  api_key_file: sidecarText({ description: 'A file holding the key (a mounted Secret), read at every load.', min: 1 }),
  model: text({
    description:
      "Model name sent to the backend. A LiteLLM provider prefix (cohere/, jina_ai/, huggingface/, hosted_vllm/, vllm/, infinity/) is dropped and sets api_format. Unset: the caller's model is passed on.",
    max: 253,
  }),
  input_cost_per_token: decimal({
    description: 'Cost of one input token, used by cost-based-routing.',
    min: 0,
    max: 1,
    default: 0,
  }),
} as const;

/** Keys accepted on the entry or in `litellm_params` (the entry wins). */
export const EITHER_SETTINGS = {
  api_format: oneOf(API_FORMATS, {
    description: "The backend's wire format (see docs/api.md). Unset: implied by a model prefix, else native.",
    default: 'native',
    filled: false,
  }),
  rpm: integer({
    description:
      'Requests per minute this backend may get; a backend at its limit is skipped. Pool-wide: each of sidecar_count sidecars enforces its share.',
    min: 1,
    max: 100_000_000,
  }),
  tpm: integer({
    description: 'Estimated tokens per minute this backend may get (pool-wide, like rpm).',
    min: 1,
    max: 10_000_000_000,
  }),
  max_parallel_requests: integer({
    description: 'Calls in flight to this backend at once, at most (pool-wide, like rpm).',
    min: 1,
    max: 1_000_000,
  }),
  timeout: seconds({
    description: "One attempt's time limit on this backend. Unset: default_timeout.",
    min: 0,
    positive: true,
    max: 3600,
  }),
  forward_client_authorization: boolean({
    description:
      "Send the caller's Authorization header to this backend when it has no api_key. Unset: router_settings.forward_client_authorization.",
  }),
  max_documents_per_call: integer({
    description:
      'The most documents one call to this backend may carry; a larger call is split. Unset: tei 32 (TEI --max-client-batch-size), cohere 1000, others unlimited.',
    min: 1,
    max: 1_000_000,
  }),
  queue_metric: text({
    description:
      "Prometheus metric on the backend's /metrics that counts calls waiting (read when scrape_backend_metrics is on; samples summed). Unset: tei te_queue_size, vllm vllm:num_requests_waiting, others none.",
    max: 200,
  }),
  max_tokens_per_call: integer({
    description:
      'The most estimated tokens one call to this backend may carry; a larger call is split. Unset: unlimited.',
    min: 1,
    max: 1_000_000_000,
  }),
} as const;
