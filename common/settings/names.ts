/** Names the settings and the code that acts on them share. */
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
  'least-queue',
] as const;
export type StrategyName = (typeof STRATEGY_NAMES)[number];

export const CANARY_ACTIONS = ['flag', 'eject'] as const;

export const DEFAULT_RETRY_STATUS_CODES = [429, 500, 502, 503, 504] as const;

/**
 * Where a pool's discovered endpoints are merged: `sidecar` — each sidecar watches the Services'
 * EndpointSlices (the ConfigMap changes only with the spec); `rendered` — the operator writes the
 * ready endpoints into the ConfigMap (for sidecars that may not read EndpointSlices).
 */
export const DISCOVERY_MODES = ['sidecar', 'rendered'] as const;
export type DiscoveryMode = (typeof DISCOVERY_MODES)[number];
