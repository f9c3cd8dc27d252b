/**
 * The RerankerPool custom resource, once: types, runtime validation, and (through generate-crd.ts)
 * the CRD's openAPIV3Schema. `spec.routing` is derived from the sidecar's own router_settings
 * schema, key by key in camelCase, so the two cannot drift apart.
 */
import { z } from 'zod';
import { API_FORMATS, routerSettingsSchema } from '../../common/config-schema.ts';

export const GROUP = 'reranker.dev';
export const VERSION = 'v1alpha1';
export const KIND = 'RerankerPool';
export const PLURAL = 'rerankerpools';

/** Router settings a pool may not set: the local backend belongs to each sidecar's own pod. */
const SIDECAR_ONLY = new Set(['local_backend']);

export function camelCase(snake: string): string {
  return snake.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
}

function routingShape(): Record<string, z.ZodType> {
  const shape: Record<string, z.ZodType> = {};
  for (const [key, type] of Object.entries(routerSettingsSchema.shape)) {
    if (SIDECAR_ONLY.has(key)) continue;
    const inner = type instanceof z.ZodDefault || type instanceof z.ZodOptional ? (type.unwrap() as z.ZodType) : type;
    shape[camelCase(key)] = inner instanceof z.ZodArray ? inner.max(16).optional() : inner.optional();
  }
  return shape;
}

/** `routing` key (camelCase) -> router_settings key (snake_case). */
export const ROUTING_KEYS: ReadonlyMap<string, string> = new Map(
  Object.keys(routerSettingsSchema.shape)
    .filter((key) => !SIDECAR_ONLY.has(key))
    .map((key) => [camelCase(key), key]),
);

const dnsLabel = z
  .string()
  .min(1)
  .max(63)
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
const backendName = z
  .string()
  .min(1)
  .max(63)
  .regex(/^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/);

/** Per-backend settings shared by static entries and discovery templates. */
const backendSettings = {
  apiFormat: z.enum(API_FORMATS).default('native'),
  model: z.string().min(1).max(253).optional(),
  weight: z.number().min(0).max(1_000_000).default(1),
  priority: z.int().min(0).max(1000).default(0),
  rpm: z.int().min(1).max(100_000_000).optional(),
  tpm: z.int().min(1).max(10_000_000_000).optional(),
  maxParallelRequests: z.int().min(1).max(1_000_000).optional(),
  timeout: z.number().positive().max(3600).optional(),
  healthCheckEnabled: z.boolean().optional(),
  healthCheckInterval: z.number().min(0).max(86_400).optional(),
  /** Larger calls are split (default by apiFormat: tei 32, cohere 1000, others unlimited). */
  maxDocumentsPerCall: z.int().min(1).max(1_000_000).optional(),
  maxTokensPerCall: z.int().min(1).max(1_000_000_000).optional(),
};

export const secretKeyRefSchema = z.object({ name: dnsLabel.max(253), key: z.string().min(1).max(253).regex(/^[-._a-zA-Z0-9]+$/) });

export const staticBackendSchema = z
  .object({
    name: backendName,
    apiBase: z.string().min(1).max(2048),
    apiKeySecretRef: secretKeyRefSchema.optional(),
    ...backendSettings,
  })
  .meta({
    'x-kubernetes-validations': [
      { rule: "isURL(self.apiBase) && (self.apiBase.startsWith('http://') || self.apiBase.startsWith('https://'))", message: 'apiBase must be an http(s) URL', fieldPath: '.apiBase' },
    ],
  });

export const discoverySchema = z
  .object({
    /** A Service in the pool's namespace; its EndpointSlices are followed. */
    service: dnsLabel,
    /** The endpoint port by name (the Service port's name), or by number. */
    portName: z.string().min(1).max(15).optional(),
    port: z.int().min(1).max(65535).optional(),
    scheme: z.enum(['http', 'https']).default('http'),
    apiKeySecretRef: secretKeyRefSchema.optional(),
    ...backendSettings,
  })
  .meta({
    'x-kubernetes-validations': [{ rule: '!(has(self.port) && has(self.portName))', message: 'set port or portName, not both' }],
  });

export const labelSelectorSchema = z.object({
  matchLabels: z.record(z.string().max(63), z.string().max(63)).optional(),
});

export const poolSpecSchema = z
  .object({
    routing: z.object(routingShape()).default({}),
    backends: z.array(staticBackendSchema).max(64).default([]).meta({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['name'] }),
    discovery: z.array(discoverySchema).max(16).default([]).meta({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['service'] }),
    /** Pods that run this pool's sidecars: the operator reads their /lb/config to report sync. */
    sidecarSelector: labelSelectorSchema.optional(),
    sidecarPort: z.int().min(1).max(65535).default(8000),
  })
  .meta({
    'x-kubernetes-validations': [{ rule: 'size(self.backends) + size(self.discovery) > 0', message: 'at least one entry in backends or discovery is required' }],
  });

export const conditionSchema = z.object({
  type: z.string().max(316),
  status: z.enum(['True', 'False', 'Unknown']),
  observedGeneration: z.int().min(0).optional(),
  lastTransitionTime: z.string().max(64),
  reason: z.string().max(1024),
  message: z.string().max(32_768),
});

export const poolStatusSchema = z.object({
  observedGeneration: z.int().min(0).optional(),
  conditions: z.array(conditionSchema).max(8).optional().meta({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['type'] }),
  backends: z.object({ static: z.int().min(0), discovered: z.int().min(0), ready: z.int().min(0) }).optional(),
  configMapName: z.string().max(253).optional(),
  configHash: z.string().max(64).optional(),
  sidecars: z.object({ synced: z.int().min(0), total: z.int().min(0), summary: z.string().max(32) }).optional(),
  /** Backends a sidecar's model-consistency canary judged to rank differently from the pool's majority. */
  inconsistentBackends: z.array(z.string().max(253)).max(64).optional(),
  // --- sidecar injection (issue 13): injected pods, how many run the current sidecar version, the others.
  injection: z
    .object({
      pods: z.int().min(0),
      current: z.int().min(0),
      version: z.string().max(128),
      summary: z.string().max(32),
      outdated: z.array(z.string().max(400)).max(20),
    })
    .optional(),
});

export type PoolSpec = z.infer<typeof poolSpecSchema>;
export type PoolStatus = z.infer<typeof poolStatusSchema>;
export type StaticBackend = z.infer<typeof staticBackendSchema>;
export type DiscoveryEntry = z.infer<typeof discoverySchema>;
export type Condition = z.infer<typeof conditionSchema>;

export interface RerankerPool {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; namespace: string; uid?: string; generation?: number; resourceVersion?: string };
  spec: PoolSpec;
  status?: PoolStatus;
}
