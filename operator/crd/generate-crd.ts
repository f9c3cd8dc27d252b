/** Builds the RerankerPool CRD from pool-schema.ts. `make crds` writes it; a test fails when stale. */
import { dump } from 'js-yaml';
import { z } from 'zod';
import { GROUP, KIND, PLURAL, VERSION, poolSpecSchema, poolStatusSchema } from './pool-schema.ts';

export const CRD_FILE = `crds/${PLURAL}.${GROUP}.yaml`;
/** Helm reads files only inside the chart, so the chart carries a copy. */
export const CHART_CRD_FILE = `charts/reranker-lb/files/crds/${PLURAL}.${GROUP}.yaml`;

type Json = Record<string, unknown>;

/** Keys JSON Schema allows but a Kubernetes structural schema does not. */
const UNSUPPORTED = new Set(['$schema', 'propertyNames', 'additionalProperties']);

/** Removes what structural schemas reject; keeps `additionalProperties` only for maps (no `properties`). */
function structural(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(structural);
  if (node === null || typeof node !== 'object') return node;
  const out: Json = {};
  const input = node as Json;
  for (const [key, value] of Object.entries(input)) {
    if (key === 'additionalProperties' && input.properties === undefined && typeof value === 'object') {
      out[key] = structural(value);
    } else if (!UNSUPPORTED.has(key)) {
      out[key] =
        key === 'default' ||
        key === 'x-kubernetes-validations' ||
        key === 'enum' ||
        key === 'required' ||
        key === 'x-kubernetes-list-map-keys'
          ? value
          : structural(value);
    }
  }
  return out;
}

function schemaOf(type: z.ZodType): Json {
  return structural(z.toJSONSchema(type, { io: 'input', target: 'openapi-3.0', unrepresentable: 'throw' })) as Json;
}

export function buildCrd(): Json {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: `${PLURAL}.${GROUP}`,
      annotations: { 'reranker.dev/generated-by': 'operator/crd/generate-crd.ts (make crds); do not edit' },
    },
    spec: {
      group: GROUP,
      scope: 'Namespaced',
      names: {
        kind: KIND,
        listKind: `${KIND}List`,
        plural: PLURAL,
        singular: 'rerankerpool',
        shortNames: ['rrp'],
        categories: ['reranker'],
      },
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: [
            // The apiserver fills routingStrategy's default in, so the column shows it when unset.
            {
              name: 'Strategy',
              type: 'string',
              description: 'The routing strategy',
              jsonPath: '.spec.routing.routingStrategy',
            },
            {
              name: 'Backends',
              type: 'integer',
              description: 'Ready backends (static + discovered)',
              jsonPath: '.status.backends.ready',
            },
            { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status' },
            {
              name: 'Synced',
              type: 'string',
              description: 'Sidecars that loaded the rendered config',
              jsonPath: '.status.sidecars.summary',
            },
            { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
            // --- sidecar injection, in `-o wide`.
            {
              name: 'Injected',
              type: 'string',
              description: 'Injected pods on the current sidecar version / all injected pods',
              jsonPath: '.status.injection.summary',
              priority: 1,
            },
            {
              name: 'Version',
              type: 'string',
              description: 'The sidecar version the operator injects',
              jsonPath: '.status.injection.version',
              priority: 1,
            },
            {
              name: 'Message',
              type: 'string',
              description: 'Why the pool is (not) ready',
              jsonPath: '.status.conditions[?(@.type=="Ready")].message',
              priority: 1,
            },
          ],
          schema: {
            openAPIV3Schema: {
              type: 'object',
              description: 'A pool of reranker backends, rendered into the config of reranker-lb sidecars.',
              required: ['spec'],
              properties: {
                apiVersion: {
                  type: 'string',
                  description: 'The versioned schema of this object: reranker.dev/v1alpha1.',
                },
                kind: { type: 'string', description: 'RerankerPool.' },
                metadata: { type: 'object' }, // the apiserver refuses anything more here
                spec: schemaOf(poolSpecSchema),
                status: schemaOf(poolStatusSchema),
              },
            },
          },
        },
      ],
    },
  };
}

export function crdYaml(): string {
  return `# Generated from operator/crd/pool-schema.ts by \`make crds\`. Do not edit.\n${dump(buildCrd(), { lineWidth: -1, noRefs: true })}`;
}
