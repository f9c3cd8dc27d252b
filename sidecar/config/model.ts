/** The normalized, validated config the sidecar runs on: camelCase, milliseconds, secrets resolved. */
import type { ApiFormat, StrategyName } from '../../common/config-schema.ts';
import type { DiscoveryTarget, EndpointState } from '../../common/discovery/endpoint-slices.ts';
import type { DiscoveryMode } from '../../common/settings/names.ts';
import type { RedisTarget } from './redis-settings.ts';

export interface BackendSpec {
  /** Identity across reloads: api_base + model_name. */
  readonly id: string;
  readonly name: string;
  /** Base URL without trailing slash; may hold credentials, so never shown as is. */
  readonly apiBase: string;
  readonly apiFormat: ApiFormat;
  readonly apiKey: string | undefined;
  /** Why the key could not be resolved; the backend is unavailable while set. */
  readonly keyProblem: string | undefined;
  readonly model: string | undefined;
  readonly weight: number;
  readonly priority: number;
  readonly rpm: number | undefined;
  readonly tpm: number | undefined;
  readonly maxParallelRequests: number | undefined;
  /** The pool-wide limits before the split (rpm, tpm, maxParallelRequests above are this sidecar's share). */
  readonly poolLimits: PoolLimits;
  readonly timeoutMs: number;
  readonly healthCheckEnabled: boolean;
  readonly healthCheckIntervalMs: number;
  readonly costPerToken: number;
  /** Send the caller's Authorization when this backend has no key of its own. */
  readonly forwardCallerAuthorization: boolean;
  /** Most documents per call (the api_format's default when not set); undefined: unlimited. */
  readonly maxDocumentsPerCall: number | undefined;
  /** Most estimated tokens per call; undefined: unlimited. */
  readonly maxTokensPerCall: number | undefined;
  /** The Prometheus metric read as this backend's queue (scrape_backend_metrics); undefined: none. */
  readonly queueMetric: string | undefined;
  /**
   * Which limits the config set itself: the others may come from the backend (TEI's /info), and
   * `sidecarCount` splits a backend-told max_concurrent_requests as it splits configured limits.
   */
  readonly limitsConfigured: { readonly maxDocuments: boolean; readonly maxParallel: boolean };
  readonly sidecarCount: number;
  /**
   * A discovered endpoint's condition (its health: the kubelet's readiness probe): ready;
   * terminating but still serving (a last resort); not ready (only when nothing else can take the
   * call: Envoy's panic routing, for a probe that flaps under load). Unset: a static backend.
   */
  readonly endpoint?: EndpointState;
}

/** A discovery template: each endpoint of `target`'s Service becomes a backend like `spec`. */
export interface DiscoveryTemplate {
  readonly target: DiscoveryTarget;
  /** The backend settings of every endpoint (its api_base and name are the endpoint's). */
  readonly spec: BackendSpec;
}

/** Passive outlier detection (balancer/outlier-detection.ts); consecutiveFailures 0: off. */
export interface OutlierSettings {
  readonly consecutiveFailures: number;
  readonly baseEjectionMs: number;
  readonly maxEjectionMs: number;
  readonly maxEjectionPercent: number;
}

export interface PoolLimits {
  readonly rpm: number | undefined;
  readonly tpm: number | undefined;
  readonly maxParallelRequests: number | undefined;
}

export interface LocalBackendSpec {
  readonly apiBase: string;
  readonly apiFormat: ApiFormat;
  readonly apiKey: string | undefined;
  readonly timeoutMs: number;
  readonly forwardCallerAuthorization: boolean;
}

/** Limits of the HTTP server towards clients (see docs/configuration.md "Deadlines and limits"). */
export interface ServerLimits {
  readonly headerTimeoutMs: number;
  readonly bodyTimeoutMs: number;
  readonly sendTimeoutMs: number;
  readonly keepAliveTimeoutMs: number;
}

export interface BreakerSettings {
  readonly allowedFails: number;
  readonly cooldownMs: number;
  readonly failureThresholdPercent: number;
  readonly failureThresholdMinRequests: number;
  readonly windowMs: number;
}

export interface RouterSettings {
  readonly strategy: StrategyName;
  readonly numRetries: number;
  readonly retryDelayMs: number;
  readonly retryOnStatus: ReadonlySet<number>;
  readonly fallbackToLocal: boolean;
  readonly defaultTimeoutMs: number;
  readonly healthCheck: {
    readonly intervalMs: number;
    readonly timeoutMs: number;
    readonly unhealthyThreshold: number;
    readonly healthyThreshold: number;
    readonly concurrency: number;
  };
  readonly requestLogging: boolean;
  readonly breaker: BreakerSettings;
  readonly retryBudget: { readonly percent: number; readonly min: number };
  readonly maxBodyBytes: number;
  readonly maxResponseBytes: number;
  readonly connectTimeoutMs: number;
  readonly server: ServerLimits;
  readonly latencyDecayMs: number;
  /** Split calls of at least this many documents over the eligible backends; undefined: only to fit limits. */
  readonly shardMinDocuments: number | undefined;
  readonly hedging: HedgeSettings;
  readonly canary: CanarySettings;
  readonly flow: FlowSettings;
  readonly loadSignal: LoadSignalSettings;
  readonly discoveryMode: DiscoveryMode;
  /** Actively check discovered endpoints too (off: their ready condition is their health). */
  readonly discoveryHealthChecks: boolean;
  readonly outlier: OutlierSettings;
}

/** The queue when no backend can take a call now, priorities and tenants (balancer/flow-control.ts). */
export interface FlowSettings {
  /** 0: no queue. */
  readonly queueTimeoutMs: number;
  readonly queueMaxLength: number;
  readonly maxTenants: number;
  readonly tenantMaxInFlight: number | undefined;
  /** A backend reporting at least this queue takes no new call while this sidecar has one there; undefined: off. */
  readonly saturationQueue: number | undefined;
}

/** Backend-reported load (balancer/load-signal.ts). */
export interface LoadSignalSettings {
  readonly intervalMs: number;
  readonly scrape: boolean;
}

export interface HedgeSettings {
  readonly enabled: boolean;
  /** Fixed hedge delay; undefined: the pool's recent p95 attempt latency. */
  readonly afterMs: number | undefined;
  readonly budgetPercent: number;
}

export interface CanarySettings {
  /** 0: off. */
  readonly intervalMs: number;
  readonly query: string;
  readonly documents: readonly string[];
  readonly threshold: number;
  readonly action: 'flag' | 'eject';
  readonly timeoutMs: number;
}

export interface LbConfig {
  readonly backends: readonly BackendSpec[];
  /** Services whose endpoints this sidecar follows itself (sidecar/discovery/); their backends are in `backends` once merged. */
  readonly discovery: readonly DiscoveryTemplate[];
  readonly router: RouterSettings;
  readonly local: LocalBackendSpec;
  /** sha256 of the file's bytes, shown in /lb/config and /lb/stats. */
  readonly hash: string;
  /**
   * sha256 over the resolved keys (from the environment and key files). Never shown: it lets a
   * reload notice a rotated Secret when the YAML itself is unchanged.
   */
  readonly keyDigest: string;
  readonly source: string;
  readonly warnings: readonly string[];
  /** Sidecars sharing the pool's limits (the static share's divisor). */
  readonly sidecarCount: number;
  /** Where the pool's shared budget lives; undefined: limits are split per sidecar. */
  readonly redis: RedisTarget | undefined;
}
