/**
 * Every `router_settings` key, declared once (see setting.ts); a RerankerPool's `spec.routing`
 * carries the CRD twins of all but `local_backend` (which belongs to each sidecar's own pod).
 */
import { API_FORMATS, CANARY_ACTIONS, DEFAULT_RETRY_STATUS_CODES, DISCOVERY_MODES, STRATEGY_NAMES } from './names.ts';
import { DEFAULT_CANARY_DOCUMENTS, DEFAULT_CANARY_QUERY } from './canary-defaults.ts';
import { DEFAULT_LOCAL_BACKEND_URL } from './environment.ts';
import {
  boolean,
  decimal,
  group,
  integer,
  integers,
  oneOf,
  seconds,
  sidecarText,
  text,
  texts,
  wholeInCrd,
} from './kinds.ts';

const CANARY_SETTINGS = {
  interval: seconds({
    description: 'Time between canary rounds; 0 turns the canary off.',
    min: 0,
    max: 86_400,
    default: 0,
  }),
  query: text({
    description: "The canary call's query.",
    max: 2048,
    default: DEFAULT_CANARY_QUERY,
    defaultShown: 'a built-in query',
  }),
  documents: texts({
    description: "The canary call's documents.",
    itemMax: 4096,
    minItems: 3,
    maxItems: 100,
    default: [...DEFAULT_CANARY_DOCUMENTS],
    defaultShown: `${DEFAULT_CANARY_DOCUMENTS.length} built-in documents`,
  }),
  threshold: decimal({
    description: "The lowest Kendall rank correlation with the pool majority's ranking that counts as consistent.",
    min: -1,
    max: 1,
    default: 0.6,
  }),
  action: oneOf(CANARY_ACTIONS, {
    description:
      'flag: shown in stats, metrics and the pool status only; eject: also not eligible until a later round agrees.',
    default: 'flag',
  }),
  timeout: seconds({ description: 'Time limit of one canary call.', min: 0, positive: true, max: 300, default: 10 }),
} as const;

const LOCAL_BACKEND_SETTINGS = {
  api_base: sidecarText({
    description: 'URL of the reranker in the same pod (RERANKER_LOCAL_BACKEND_URL wins).',
    min: 1,
    default: DEFAULT_LOCAL_BACKEND_URL,
  }),
  api_format: oneOf(API_FORMATS, {
    description: 'Its wire format (RERANKER_LOCAL_BACKEND_FORMAT wins).',
    default: 'native',
    filled: false,
  }),
  api_key: sidecarText({ description: 'Its key, literal or os.environ/NAME (RERANKER_LOCAL_BACKEND_API_KEY wins).' }),
  timeout: seconds({
    description: "One call's time limit. Unset: default_timeout.",
    min: 0,
    positive: true,
    max: 3600,
  }),
  forward_client_authorization: boolean({
    description: "Send the caller's Authorization header to it. Unset: router_settings.forward_client_authorization.",
  }),
} as const;

export const ROUTER_SETTINGS = {
  routing_strategy: oneOf(STRATEGY_NAMES, {
    description: 'How a backend is picked (see the strategies in the README).',
    default: 'weighted-random',
    crdDefault: true,
  }),
  num_retries: integer({
    description: 'Extra attempts after the first, per request (the local fallback is not one of them).',
    min: 0,
    max: 100,
    default: 2,
  }),
  retry_delay: seconds({
    description:
      'Base backoff before a backend is tried again; doubles each time, jittered to 50-100%. Failover to a different backend is immediate.',
    min: 0,
    max: 300,
    default: 0.5,
  }),
  retry_on_status_codes: integers({
    description: 'Backend statuses that move the call to another backend.',
    min: 400,
    max: 599,
    maxItems: 16,
    default: [...DEFAULT_RETRY_STATUS_CODES],
  }),
  fallback_to_local: boolean({ description: 'When no backend can serve, try the local backend once.', default: true }),
  default_timeout: seconds({
    description: 'Deadline of the whole request, all attempts and backoff included.',
    min: 0,
    positive: true,
    max: 3600,
    default: 30,
  }),
  timeout: seconds({
    description: 'Another name of default_timeout (wins when both are set).',
    min: 0,
    positive: true,
    max: 3600,
  }),
  health_check_interval: seconds({
    description: 'Time between active health checks (each jittered +/-10%); 0 turns them off.',
    min: 0,
    max: 86_400,
    default: 60,
  }),
  health_check_timeout: seconds({
    description: "One health check's time limit.",
    min: 0,
    positive: true,
    max: 300,
    default: 5,
  }),
  health_check_unhealthy_threshold: integer({
    description: 'Failed checks in a row that take a backend out.',
    min: 1,
    max: 1000,
    default: 2,
  }),
  health_check_healthy_threshold: integer({
    description: "Passed checks in a row that bring a backend back (a new backend's first pass brings it in).",
    min: 1,
    max: 1000,
    default: 2,
  }),
  health_check_concurrency: integer({
    description: 'Health checks running at once, at most (the rest wait their turn).',
    min: 1,
    max: 10_000,
    default: 64,
  }),
  enable_request_logging: boolean({ description: 'One JSON log line per call.', default: true }),
  allowed_fails: integer({
    description: "More than this many backend failures in a row open the backend's breaker (LiteLLM's name).",
    min: 0,
    max: 1_000_000,
    default: 3,
  }),
  cooldown_time: seconds({
    description: 'How long an open breaker stays open before one probe is let through (half-open).',
    min: 0,
    positive: true,
    max: 3600,
    default: 5,
  }),
  failure_threshold_percent: percent(
    'The breaker also opens when at least this % of at least failure_threshold_min_requests calls failed within failure_window.',
    1,
    100,
    50,
  ),
  failure_threshold_min_requests: integer({
    description: 'Calls within failure_window before failure_threshold_percent applies.',
    min: 1,
    max: 1_000_000,
    default: 20,
  }),
  failure_window: seconds({
    description: 'The rolling window of failure_threshold_percent.',
    min: 0,
    positive: true,
    max: 3600,
    default: 60,
  }),
  retry_budget_percent: percent(
    "Over the last 10 s, retries may be at most this % of the calls started, plus retry_budget_min per second (Finagle's retry budget).",
    0,
    100,
    20,
  ),
  retry_budget_min: integer({
    description: "Retries per second always allowed, whatever the percentage (Finagle's minRetriesPerSec).",
    min: 0,
    max: 1_000_000,
    default: 10,
  }),
  max_request_body_bytes: integer({
    description: 'Larger request bodies get 413.',
    min: 1,
    max: 1_073_741_824,
    default: 10 * 1024 * 1024,
  }),
  max_response_bytes: integer({
    description: 'A larger backend answer is a backend failure (the attempt fails over).',
    min: 1,
    max: 1_073_741_824,
    default: 20 * 1024 * 1024,
  }),
  connect_timeout: seconds({
    description: 'Time to open a connection to a backend (TCP, and TLS for https).',
    min: 0,
    positive: true,
    max: 300,
    default: 2,
  }),
  forward_client_authorization: boolean({
    description: "Default for every backend: pass the caller's Authorization header to backends without an api_key.",
    default: false,
  }),
  client_header_timeout: seconds({
    description: 'Time for a client to send the request headers.',
    min: 0,
    positive: true,
    max: 3600,
    default: 10,
  }),
  client_body_timeout: seconds({
    description: 'Time for a client to send the whole request (headers and body).',
    min: 0,
    positive: true,
    max: 3600,
    default: 30,
  }),
  send_timeout: seconds({
    description: 'An answer that makes no progress this long (the client does not read it) is cut.',
    min: 0,
    positive: true,
    max: 3600,
    default: 10,
  }),
  keepalive_timeout: seconds({
    description:
      "How long an idle keep-alive connection from a client stays open; longer than most clients' own idle timeout (undici 4 s, httpx 5 s), so the client closes first.",
    min: 0,
    positive: true,
    max: 3600,
    default: 65,
  }),
  latency_decay_time: seconds({
    description: 'Time constant of the latency estimate of latency-based-routing.',
    min: 0,
    positive: true,
    max: 3600,
    default: 5,
  }),
  sidecar_count: integer({
    description:
      "rpm, tpm and max_parallel_requests are pool-wide: without Redis each of this many sidecars enforces ceil(limit / count); with Redis it is the static share when Redis fails. RERANKER_SIDECAR_COUNT wins; the operator renders the count of the pool's sidecar pods.",
    min: 1,
    max: 100_000,
    default: 1,
  }),
  redis_host: sidecarText({
    description:
      "Redis (or Valkey) host of the pool's shared budget: with it, rpm, tpm and max_parallel_requests are drawn from one budget by every sidecar (LiteLLM's name). Unset (and no redis_url): each sidecar enforces ceil(limit / sidecar_count).",
    min: 1,
  }),
  redis_port: integer({
    description: 'Port of redis_host.',
    min: 1,
    max: 65535,
    default: 6379,
    crd: false,
    filled: false,
  }),
  redis_password: sidecarText({
    description:
      'Password of redis_host or redis_url, literal or os.environ/NAME (the operator renders os.environ/... from a Secret).',
  }),
  redis_url: sidecarText({
    description:
      'redis://[user:password@]host:port[/db] or rediss://... instead of redis_host and redis_port; redis_password wins over a password in it.',
    min: 1,
  }),
  redis_key_prefix: sidecarText({
    description:
      'Names the pool in Redis keys, so two pools on one Redis never share a budget (the operator renders <namespace>/<pool>).',
    min: 1,
  }),
  shard_min_documents: integer({
    description:
      'Split calls of at least this many documents over the eligible backends, even within their limits. Unset: split only to fit limits.',
    min: 2,
    max: 1_000_000,
  }),
  hedging: boolean({
    description: 'Send a second attempt when the first has not answered by hedge_after.',
    default: false,
  }),
  hedge_after: seconds({
    description:
      "Time after which an unanswered attempt is hedged. Unset: the pool's recent p95 attempt latency (no hedge before 20 calls were seen).",
    min: 0,
    positive: true,
    max: 3600,
  }),
  hedge_budget_percent: percent(
    'Hedges over the last 10 s may be at most this % of the calls started; each also spends the retry budget.',
    0,
    100,
    10,
  ),
  queue_timeout: seconds({
    description:
      'When no backend can take a call now (every one at max_parallel_requests, a rate limit, or parked after a 429), the call waits up to this long (never past its deadline) for capacity, highest x-reranker-priority first; then 429 with Retry-After (or the local fallback). 0: no queue, the answer comes at once.',
    min: 0,
    max: 300,
    default: 0,
  }),
  queue_max_length: integer({
    description:
      'Calls waiting at once, at most; past it the lowest-priority waiter (or the newcomer) is refused with 429.',
    min: 0,
    max: 100_000,
    default: 100,
  }),
  max_tenants: integer({
    description:
      'Distinct x-reranker-tenant values tracked at once; calls of further tenants share one overflow tenant.',
    min: 1,
    max: 10_000,
    default: 64,
  }),
  tenant_max_in_flight: integer({
    description:
      "Calls of one tenant (x-reranker-tenant) in flight at once in this sidecar, at most; past it the tenant's calls get 429. Unset: no limit.",
    min: 1,
    max: 1_000_000,
  }),
  load_signal_interval: seconds({
    description:
      "How often a backend's own load report is expected (TEI's x-queue-time/x-inference-time answer headers, and the /metrics scrape when on); a report older than twice this falls back to this sidecar's own in-flight count.",
    min: 0,
    positive: true,
    max: 3600,
    default: 1,
  }),
  saturation_queue: decimal({
    description:
      "With the queue on: each sidecar may have a window of calls at each backend, learned from the backend's own fresh load reports (see load_signal_interval): a report below this queue grows a window in use by 1/sidecar_count, one at or above it cuts the window to 70%; past its window a backend is full, so calls wait here by priority instead of in the backend's first-come queue. Headers report calls ahead per slot, /metrics calls waiting. Unset: off.",
    min: 0,
    max: 100_000,
  }),
  scrape_backend_metrics: boolean({
    description:
      "Also read each backend's queue from its Prometheus /metrics (queue_metric) every load_signal_interval, jittered +/-10%. Off by default: one GET per backend per interval from every sidecar.",
    default: false,
  }),
  discovery_mode: oneOf(DISCOVERY_MODES, {
    description:
      "Where discovered endpoints are merged. sidecar: each sidecar watches the discovery Services' EndpointSlices (needs list/watch on endpointslices; the ConfigMap changes only with the spec). rendered: the operator writes every ready endpoint into the ConfigMap (sidecars that may not read EndpointSlices).",
    default: 'sidecar',
  }),
  discovery_health_checks: boolean({
    description:
      "Actively check discovered endpoints from every sidecar. Off: the kubelet's readiness probe, the endpoints' ready condition, is their health, and passive outlier detection covers the time between probes.",
    default: false,
  }),
  outlier_consecutive_failures: integer({
    description:
      'Connection failures, timeouts and 5xx answers in a row that eject a backend for a while (passive outlier detection, from what calls see); 0 turns it off.',
    min: 0,
    max: 1000,
    default: 3,
  }),
  outlier_base_ejection_time: seconds({
    description:
      "An ejection's length: this times the backend's recent ejections (one fewer for each such span it served since), at most outlier_max_ejection_time.",
    min: 0,
    positive: true,
    max: 3600,
    default: 10,
  }),
  outlier_max_ejection_time: seconds({
    description: 'The longest ejection.',
    min: 0,
    positive: true,
    max: 86_400,
    default: 300,
  }),
  outlier_max_ejection_percent: percent(
    'At most this % of the backends are ejected at once, and never the last one that could take a call.',
    0,
    100,
    50,
  ),
  canary: group(CANARY_SETTINGS, {
    description: 'The model-consistency canary: a fixed call sent to every backend to compare their rankings.',
  }),
  local_backend: group(LOCAL_BACKEND_SETTINGS, {
    description:
      "The reranker in the sidecar's own pod, tried once when no backend can serve (sidecar only: the RERANKER_LOCAL_BACKEND_* variables win).",
    crd: false,
  }),
} as const;

/** A percentage: a number in the sidecar, an integer in the CRD. */
function percent<D extends number>(description: string, min: number, max: number, value: D) {
  return wholeInCrd({ description, min, max, default: value });
}
