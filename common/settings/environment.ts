/**
 * The sidecar's environment variables, declared once: name, meaning, default. Code reads them
 * through `envValue` (a name not declared here does not compile); docs/settings.md lists them,
 * generated. The port the sidecar listens on is declared here too: the injected container, the
 * RerankerPool's `sidecarPort` default and the sidecar's own default all read `SIDECAR_PORT`.
 */

/** Where a sidecar listens unless told otherwise. */
export const SIDECAR_PORT = 8000;
/** The reranker beside the sidecar, in the same pod. */
export const DEFAULT_LOCAL_BACKEND_URL = 'http://127.0.0.1:8080';

export interface EnvVar {
  readonly description: string;
  /** The value an unset variable means (shown in the docs as is). */
  readonly default?: string | number;
  /** How the docs show the default when it is not a plain value. */
  readonly defaultShown?: string;
  /** Another name read when this one is unset. */
  readonly alias?: string;
}

export const SIDECAR_ENV = {
  RERANKER_LOAD_BALANCER_ENABLED: {
    description: '`true`/`1`/`yes`/`on` turns routing on; otherwise every call goes straight to the local backend.',
    defaultShown: 'off',
  },
  RERANKER_CONFIG_PATH: {
    description:
      'The YAML config; without it the first existing of the search list (`./reranker_config.yaml`, `./reranker_config.yml`, `./config.yaml`, `./config.yml`, `./litellm_config.yaml`).',
    defaultShown: 'search list',
  },
  RERANKER_CONFIGMAP_NAME: {
    description: 'Read the config from this ConfigMap through the Kubernetes API (the injected sidecar does).',
    defaultShown: 'none (a file)',
  },
  RERANKER_CONFIGMAP_NAMESPACE: {
    description: "The ConfigMap's namespace.",
    alias: 'POD_NAMESPACE',
    defaultShown: "the pod's",
  },
  RERANKER_POD_NAME: {
    description:
      "This sidecar's pod, so it knows whether the pool's canary plan names it as the runner (without it, it runs its own canary).",
    alias: 'POD_NAME',
    defaultShown: 'none',
  },
  RERANKER_LOCAL_BACKEND_URL: {
    description: 'The reranker container beside the sidecar (wins over `router_settings.local_backend.api_base`).',
    default: DEFAULT_LOCAL_BACKEND_URL,
  },
  RERANKER_LOCAL_BACKEND_FORMAT: {
    description: 'Its `api_format` (wins over `router_settings.local_backend.api_format`).',
    default: 'native',
  },
  RERANKER_LOCAL_BACKEND_API_KEY: {
    description: 'Its key, if it needs one (wins over `router_settings.local_backend.api_key`).',
    defaultShown: 'none',
  },
  RERANKER_LB_PORT: { description: 'The port the sidecar listens on.', alias: 'PORT', default: SIDECAR_PORT },
  RERANKER_LB_HOST: { description: 'The address the sidecar listens on.', default: '0.0.0.0' },
  LOG_LEVEL: { description: 'pino level (`debug`, `info`, `warn`, `error`).', default: 'info' },
  RERANKER_LOG_BUFFER_BYTES: {
    description:
      'Log lines waiting for a slow stdout, at most; beyond it lines are dropped and counted (`reranker_lb_log_lines_dropped_total`) instead of blocking calls.',
    default: 1_048_576,
  },
  RERANKER_ADMIN_TOKEN_FILE: {
    description:
      'A file holding the bearer token of the admin endpoints (wins over RERANKER_ADMIN_TOKEN); no token = admin API off.',
    defaultShown: 'none',
  },
  RERANKER_ADMIN_TOKEN: { description: 'The bearer token of the admin endpoints, literally.', defaultShown: 'none' },
  RERANKER_SIDECAR_COUNT: {
    description:
      'Number of sidecars sharing pool-wide rpm/tpm/max_parallel_requests (wins over `router_settings.sidecar_count`).',
    default: 1,
  },
  RERANKER_TEST_LIMIT_WINDOW_MS: {
    description:
      'Tests only: the rpm/tpm window in milliseconds instead of 60 s, so a test proves several windows in seconds. Never set it in production.',
    defaultShown: '60 s',
  },
  RERANKER_CONFIG_RECHECK_SECONDS: {
    description:
      'Seconds between content-hash re-checks of the config source (also picks up rotated key files); 0 turns them off.',
    default: 30,
  },
  RERANKER_SHUTDOWN_DELAY_SECONDS: {
    description:
      'After SIGTERM, seconds with readiness off while calls are still served (time for endpoints to drop the pod).',
    default: 2,
  },
  RERANKER_SHUTDOWN_GRACE_SECONDS: { description: 'Then, seconds the calls in flight get to finish.', default: 25 },
  RERANKER_HEAP_PLAN: {
    description:
      "Set by the launcher (`sidecar/launch.ts`, the image's entry point) for the sidecar it starts: the heap limits it chose from the memory limit, logged at start (`heap_plan`). Not a setting.",
    defaultShown: 'set by the launcher',
  },
} as const satisfies Record<string, EnvVar>;

export type SidecarEnvName = keyof typeof SIDECAR_ENV;

/** A declared variable's value (or its alias's); an empty string counts as unset. */
export function envValue(env: Readonly<Record<string, string | undefined>>, name: SidecarEnvName): string | undefined {
  const declared: EnvVar = SIDECAR_ENV[name];
  for (const key of declared.alias === undefined ? [name] : [name, declared.alias]) {
    const value = env[key];
    if (value !== undefined && value !== '') return value;
  }
  return undefined;
}
