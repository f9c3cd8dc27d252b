/**
 * The RerankerPool custom resource, once: types, runtime validation, and (through generate-crd.ts)
 * the CRD's openAPIV3Schema. `spec.routing` and the per-backend settings come from the settings'
 * one declaration (common/settings/), in Kubernetes API units (durations as "30s", integers).
 */
import { z } from 'zod';
import { EITHER_SETTINGS, ENTRY_SETTINGS, PARAMS_SETTINGS } from '../../common/settings/backend-settings.ts';
import { ROUTER_SETTINGS } from '../../common/settings/router-settings.ts';
import { crdShape } from '../../common/settings/setting.ts';
import { SIDECAR_PORT } from '../../common/settings/environment.ts';
import { DISCOVERY_FIELDS, MAX_DISCOVERY_ENTRIES } from '../../common/settings/discovery-fields.ts';

export const GROUP = 'reranker.dev';
export const VERSION = 'v1alpha1';
export const KIND = 'RerankerPool';
export const PLURAL = 'rerankerpools';

/** A Secret's name: a DNS subdomain (dots allowed), as Kubernetes validates it. */
const dnsSubdomain = z
  .string()
  .min(1)
  .max(253)
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/);
const backendName = z
  .string()
  .min(1)
  .max(63)
  .regex(/^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/);

/** Per-backend settings shared by static entries and discovery templates: the CRD twins of every backend setting. */
const backendSettings = crdShape({ ...ENTRY_SETTINGS, ...PARAMS_SETTINGS, ...EITHER_SETTINGS });

const secretKeyRefSchema = z
  .object({
    name: dnsSubdomain.describe(
      "The Secret, in the pool's namespace. The operator never reads it: the sidecar container gets the key as an environment variable.",
    ),
    key: z
      .string()
      .min(1)
      .max(253)
      .regex(/^[-._a-zA-Z0-9]+$/)
      .describe('The key within the Secret.'),
  })
  .describe(
    'Where the API key is: rendered as api_key: os.environ/RERANKER_KEY_<SECRET>__<KEY>, never as the key itself.',
  );

const staticBackendSchema = z
  .object({
    name: backendName.describe("The backend's name in stats, logs and metric labels; unique in the pool."),
    apiBase: z.string().min(1).max(2048).describe("The backend's http(s) URL; a path prefix is kept."),
    apiKeySecretRef: secretKeyRefSchema.optional(),
    ...backendSettings,
  })
  .meta({
    'x-kubernetes-validations': [
      {
        rule: "isURL(self.apiBase) && (self.apiBase.startsWith('http://') || self.apiBase.startsWith('https://'))",
        message: 'apiBase must be an http(s) URL',
        fieldPath: '.apiBase',
      },
    ],
  })
  .describe('A backend at a fixed URL.');

const discoverySchema = z
  .object({
    ...DISCOVERY_FIELDS,
    apiKeySecretRef: secretKeyRefSchema.optional(),
    ...backendSettings,
  })
  .meta({
    'x-kubernetes-validations': [
      { rule: '!(has(self.port) && has(self.portName))', message: 'set port or portName, not both' },
    ],
  })
  .describe('A Service whose endpoints are backends; the per-backend settings are the template of each.');

const labelKey = z.string().min(1).max(317);
const labelSelectorSchema = z
  .object({
    matchLabels: z.record(labelKey, z.string().max(63)).optional().describe('Labels a pod must have, all of them.'),
    matchExpressions: z
      .array(
        z
          .object({
            key: labelKey.describe('The label key.'),
            operator: z.enum(['In', 'NotIn', 'Exists', 'DoesNotExist']).describe('How the key relates to the values.'),
            values: z
              .array(z.string().max(63))
              .max(64)
              .optional()
              .describe('Non-empty for In and NotIn, empty for Exists and DoesNotExist.'),
          })
          .meta({
            'x-kubernetes-validations': [
              {
                rule: "self.operator in ['In', 'NotIn'] ? has(self.values) && size(self.values) > 0 : !has(self.values) || size(self.values) == 0",
                message: 'In and NotIn need values; Exists and DoesNotExist take none',
              },
            ],
          })
          .describe('A label requirement.'),
      )
      .max(16)
      .optional()
      .describe('Requirements a pod must meet, all of them.'),
  })
  .describe('A Kubernetes label selector; an empty one selects every pod that carries reranker.dev/sidecar=true.');

const redisSchema = z
  .object({
    address: z
      .string()
      .min(1)
      .max(512)
      .regex(/^[^@\s]+$/, 'no credentials or spaces in the address: the password comes from passwordSecretRef')
      .describe(
        'host:port, or a redis:// (rediss:// for TLS) URL without credentials, of a Redis or Valkey the sidecars reach.',
      ),
    passwordSecretRef: secretKeyRefSchema
      .optional()
      .describe(
        "The Redis password's Secret and key; rendered as redis_password: os.environ/RERANKER_KEY_<SECRET>__<KEY>, never as the password.",
      ),
  })
  .describe(
    "The Redis that holds the pool's shared budget: rpm, tpm and max_parallel_requests are drawn from one budget by every sidecar of the pool (keys prefixed <namespace>/<pool>). Unset: each sidecar enforces ceil(limit / sidecar_count).",
  );

export const poolSpecSchema = z
  .object({
    redis: redisSchema.optional(),
    routing: z
      .object(crdShape(ROUTER_SETTINGS))
      .default({})
      .describe(
        "How the sidecars route: the twins of the sidecar's router_settings (all but local_backend, which is per pod).",
      ),
    backends: z
      .array(staticBackendSchema)
      .max(64)
      .default([])
      .meta({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['name'] })
      .describe('Backends at fixed URLs.'),
    discovery: z
      .array(discoverySchema)
      .max(MAX_DISCOVERY_ENTRIES)
      .default([])
      .meta({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['service'] })
      .describe('Services whose ready endpoints are backends, followed as they change.'),
    sidecarSelector: labelSelectorSchema
      .optional()
      .describe(
        "Pods that run this pool's sidecars (they also carry reranker.dev/sidecar=true): the operator reads their /lb/config to report sync.",
      ),
    sidecarPort: z.int().min(1).max(65535).default(SIDECAR_PORT).describe('Where the sidecars listen.'),
  })
  .meta({
    'x-kubernetes-validations': [
      {
        rule: 'size(self.backends) + size(self.discovery) > 0',
        message: 'at least one entry in backends or discovery is required',
      },
    ],
  })
  .describe('The backends of the pool and how the sidecars route among them.');

/** metav1.Condition, with the constraints Kubernetes declares on it. */
const conditionSchema = z
  .object({
    type: z
      .string()
      .max(316)
      .regex(
        /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$/,
      )
      .describe(
        'The condition: Ready, ConfigRendered, BackendsAvailable, SidecarsSynced, EndpointsSynced or ModelConsistent (others may add their own).',
      ),
    status: z.enum(['True', 'False', 'Unknown']).describe('True, False or Unknown.'),
    observedGeneration: z
      .int()
      .min(0)
      .max(Number.MAX_SAFE_INTEGER)
      .optional()
      .describe('The .metadata.generation the condition was computed from.'),
    lastTransitionTime: z.string().max(64).meta({ format: 'date-time' }).describe('When the status last changed.'),
    reason: z
      .string()
      .min(1)
      .max(1024)
      .regex(/^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$/)
      .describe('Why, in CamelCase (e.g. ServiceNotFound).'),
    message: z.string().max(32_768).describe('Why, for people.'),
  })
  .describe("An observation of the pool's state.");

const count = (description: string) => z.int().min(0).max(1_000_000).describe(description);

export const poolStatusSchema = z
  .object({
    observedGeneration: z
      .int()
      .min(0)
      .max(Number.MAX_SAFE_INTEGER)
      .optional()
      .describe('The .metadata.generation this status describes.'),
    conditions: z
      .array(conditionSchema)
      .max(16)
      .optional()
      .meta({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['type'] })
      .describe('Ready, ConfigRendered, BackendsAvailable, SidecarsSynced, EndpointsSynced, ModelConsistent.'),
    backends: z
      .object({
        static: count('Static backends.'),
        discovered: count('Discovered endpoints, ready or not.'),
        ready: count('Backends in the rendered config.'),
      })
      .optional()
      .describe('How many backends the pool has.'),
    configMapName: z.string().max(253).optional().describe('The ConfigMap the config is rendered into.'),
    configHash: z.string().max(64).optional().describe('sha256 of the rendered config: what a synced sidecar reports.'),
    sidecars: z
      .object({
        synced: count('Sidecars serving configHash (the settings, static backends and discovery templates).'),
        total: count('Sidecars selected.'),
        summary: z.string().max(32).describe('synced/total.'),
        endpointsSynced: count(
          'Sidecars that merged the EndpointSlices of endpointsDigest (discoveryMode sidecar).',
        ).optional(),
      })
      .optional()
      .describe('Sidecars that loaded the rendered config.'),
    endpointsDigest: z
      .string()
      .max(64)
      .optional()
      .describe(
        "Digest of the discovery Services' EndpointSlices (names and resourceVersions) as the operator sees them: what a sidecar that merged them reports (discoveryMode sidecar).",
      ),
    sidecarCount: z
      .object({
        rendered: z
          .int()
          .min(1)
          .max(100_000)
          .describe(
            "The sidecar_count in the rendered config: each sidecar's static share of rpm, tpm and max_parallel_requests is ceil(limit / rendered).",
          ),
        observed: count("The pool's sidecar pods now (selected or injected, not terminating)."),
        loweringSince: z
          .string()
          .max(64)
          .meta({ format: 'date-time' })
          .optional()
          .describe(
            'Since when fewer pods than rendered were observed: the lower count is rendered once it has held for the stabilization window.',
          ),
      })
      .optional()
      .describe(
        "The split of pool-wide limits, kept from the pool's sidecar pods (a higher count at once, a lower one after a stabilization window); absent until a sidecar pod is seen.",
      ),
    inconsistentBackends: z
      .array(z.string().max(253))
      .max(64)
      .optional()
      .describe("Backends a sidecar's model-consistency canary judged to rank differently from the pool's majority."),
    injection: z
      .object({
        pods: count('Pods with an injected sidecar.'),
        current: count('Of those, the ones on the sidecar version the operator injects now.'),
        version: z.string().max(128).describe('The sidecar version the operator injects.'),
        summary: z.string().max(32).describe('current/pods.'),
        outdated: z
          .array(z.string().max(400))
          .max(20)
          .describe('Up to 20 pods on another version, as "<pod> (<version>)".'),
      })
      .optional()
      .describe('Injected sidecars; absent without injected pods.'),
  })
  .describe('What the operator observed and did.');

/** Values of declared settings, by CRD key (common/settings/ has their types and bounds). */
export type SettingValues = Readonly<Record<string, unknown>>;
export type StaticBackend = z.infer<typeof staticBackendSchema> & SettingValues;
export type DiscoveryEntry = z.infer<typeof discoverySchema> & SettingValues;
export type PoolSpec = Omit<z.infer<typeof poolSpecSchema>, 'routing' | 'backends' | 'discovery'> & {
  routing: SettingValues;
  backends: StaticBackend[];
  discovery: DiscoveryEntry[];
};
export type PoolStatus = z.infer<typeof poolStatusSchema>;
export type LabelSelector = z.infer<typeof labelSelectorSchema>;
export type Condition = z.infer<typeof conditionSchema>;

export interface RerankerPool {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; namespace: string; uid?: string; generation?: number; resourceVersion?: string };
  spec: PoolSpec;
  status?: PoolStatus;
}
