/**
 * The injected container, built from the operator's settings, the pod's tuning annotations and
 * the pool (its key references and port). Pure. Mirrors examples/sidecar-deployment.yaml.
 */
import { API_FORMATS } from '../../common/config-schema.ts';
import { SIDECAR_ENV, type SidecarEnvName } from '../../common/settings/environment.ts';
import type { RerankerPool } from '../crd/pool-schema.ts';
import { configMapNameOf } from '../render/render-config.ts';
import { secretEnvName } from '../render/secret-env.ts';

export const SIDECAR_NAME = 'reranker-lb';

/** Pod annotations that tune the sidecar (docs/operator.md "Inject the sidecar" lists each). */
const TUNING = {
  port: 'reranker.dev/sidecar-port',
  logLevel: 'reranker.dev/sidecar-log-level',
  cpuRequest: 'reranker.dev/sidecar-cpu-request',
  memoryRequest: 'reranker.dev/sidecar-memory-request',
  cpuLimit: 'reranker.dev/sidecar-cpu-limit',
  memoryLimit: 'reranker.dev/sidecar-memory-limit',
  localBackendUrl: 'reranker.dev/local-backend-url',
  localBackendFormat: 'reranker.dev/local-backend-format',
} as const;

export interface Resources {
  requests?: Record<string, string>;
  limits?: Record<string, string>;
}

/** What the operator was installed with. */
export interface SidecarSettings {
  readonly image: string;
  readonly version: string;
  readonly imagePullPolicy: string;
  readonly logLevel: string;
  readonly resources: Resources;
}

const LOG_LEVELS = new Set(['trace', 'debug', 'info', 'warn', 'error', 'fatal']);
/** A Kubernetes quantity, the forms people write (100m, 0.5, 256Mi, 1G). */
const QUANTITY = /^[0-9]+(\.[0-9]+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$/;

export interface Tuning {
  readonly port: number;
  readonly logLevel: string;
  readonly resources: Resources;
  readonly localBackendUrl: string | undefined;
  readonly localBackendFormat: string | undefined;
}

/** Reads the tuning annotations; an invalid value is named in a warning and the default kept. */
export function readTuning(
  annotations: Record<string, string> | undefined,
  settings: SidecarSettings,
  defaultPort: number,
): { tuning: Tuning; warnings: string[] } {
  const warnings: string[] = [];
  const a = annotations ?? {};
  const invalid = (key: string, why: string) => warnings.push(`reranker-lb: annotation ${key} ignored: ${why}`);
  let port = defaultPort;
  if (a[TUNING.port] !== undefined) {
    const n = Number(a[TUNING.port]);
    if (Number.isInteger(n) && n >= 1 && n <= 65535) port = n;
    else invalid(TUNING.port, 'not a port number (1-65535)');
  }
  let logLevel = settings.logLevel;
  if (a[TUNING.logLevel] !== undefined) {
    if (LOG_LEVELS.has(a[TUNING.logLevel]!)) logLevel = a[TUNING.logLevel]!;
    else invalid(TUNING.logLevel, `not one of ${[...LOG_LEVELS].join(', ')}`);
  }
  const resources: Resources = {
    requests: { ...settings.resources.requests },
    limits: { ...settings.resources.limits },
  };
  for (const [key, part, resource] of [
    [TUNING.cpuRequest, 'requests', 'cpu'],
    [TUNING.memoryRequest, 'requests', 'memory'],
    [TUNING.cpuLimit, 'limits', 'cpu'],
    [TUNING.memoryLimit, 'limits', 'memory'],
  ] as const) {
    const value = a[key];
    if (value === undefined) continue;
    if (QUANTITY.test(value)) resources[part]![resource] = value;
    else invalid(key, 'not a quantity (e.g. 100m, 256Mi)');
  }
  let localBackendUrl: string | undefined;
  if (a[TUNING.localBackendUrl] !== undefined) {
    if (URL.canParse(a[TUNING.localBackendUrl]!) && /^https?:\/\//.test(a[TUNING.localBackendUrl]!))
      localBackendUrl = a[TUNING.localBackendUrl];
    else invalid(TUNING.localBackendUrl, 'not an http(s) URL');
  }
  let localBackendFormat: string | undefined;
  if (a[TUNING.localBackendFormat] !== undefined) {
    if ((API_FORMATS as readonly string[]).includes(a[TUNING.localBackendFormat]!))
      localBackendFormat = a[TUNING.localBackendFormat];
    else invalid(TUNING.localBackendFormat, `not one of ${API_FORMATS.join(', ')}`);
  }
  for (const part of ['requests', 'limits'] as const)
    if (Object.keys(resources[part]!).length === 0) delete resources[part];
  return { tuning: { port, logLevel, resources, localBackendUrl, localBackendFormat }, warnings };
}

/** Every Secret reference of the pool, as the env the rendered config expects (sorted, once each). */
function keyEnv(pool: RerankerPool): object[] {
  const refs = new Map<string, { name: string; key: string }>();
  for (const entry of [...(pool.spec.backends ?? []), ...(pool.spec.discovery ?? [])]) {
    if (entry.apiKeySecretRef !== undefined) refs.set(secretEnvName(entry.apiKeySecretRef), entry.apiKeySecretRef);
  }
  const redis = pool.spec.redis?.passwordSecretRef;
  if (redis !== undefined) refs.set(secretEnvName(redis), redis);
  return (
    [...refs.entries()]
      .sort(([a], [b]) => (a < b ? -1 : 1))
      // optional: a missing Secret marks that backend unavailable (key_problem) instead of blocking
      // the pod; the Redis password is not (a sidecar without it could not load its config).
      .map(([name, ref]) => ({
        name,
        valueFrom: { secretKeyRef: { name: ref.name, key: ref.key, optional: ref !== redis } },
      }))
  );
}

export function sidecarContainer(
  pool: RerankerPool,
  settings: SidecarSettings,
  tuning: Tuning,
): Record<string, unknown> {
  // Names checked against the sidecar's declaration (common/settings/environment.ts).
  const set = (name: SidecarEnvName, value: string) => ({ name, value });
  const env: object[] = [
    set('RERANKER_LOAD_BALANCER_ENABLED', 'true'),
    // The ConfigMap watch through the API (sub-second reloads); its namespace is the pod's.
    set('RERANKER_CONFIGMAP_NAME', configMapNameOf(pool.metadata.name)),
    {
      name: SIDECAR_ENV.RERANKER_CONFIGMAP_NAMESPACE.alias,
      valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } },
    },
    // Its own name: the pool's canary plan names the one pod whose sidecar runs the canary.
    { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
    set('RERANKER_LB_PORT', String(tuning.port)),
    set('LOG_LEVEL', tuning.logLevel),
  ];
  if (tuning.localBackendUrl !== undefined) env.push(set('RERANKER_LOCAL_BACKEND_URL', tuning.localBackendUrl));
  if (tuning.localBackendFormat !== undefined)
    env.push(set('RERANKER_LOCAL_BACKEND_FORMAT', tuning.localBackendFormat));
  env.push(...keyEnv(pool));
  // No NODE_OPTIONS: the image's launcher sizes the heap from the container's memory limit
  // (sidecar/launch.ts, docs/operations.md "Memory and GC"), one definition for every way it runs.
  return {
    name: SIDECAR_NAME,
    image: settings.image,
    imagePullPolicy: settings.imagePullPolicy,
    // A native sidecar: starts before the app containers, stops after them.
    restartPolicy: 'Always',
    env,
    ports: [{ name: SIDECAR_NAME, containerPort: tuning.port, protocol: 'TCP' }],
    startupProbe: { httpGet: { path: '/health', port: SIDECAR_NAME }, periodSeconds: 1, failureThreshold: 30 },
    livenessProbe: { httpGet: { path: '/health', port: SIDECAR_NAME } },
    readinessProbe: { httpGet: { path: '/ready', port: SIDECAR_NAME }, periodSeconds: 2 },
    resources: tuning.resources,
    securityContext: {
      runAsNonRoot: true,
      runAsUser: 1000,
      runAsGroup: 1000,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      privileged: false,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    },
  };
}
