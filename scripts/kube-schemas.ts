/**
 * JSON schemas for kubeconform, in its file layout (`<kind>-<group>-<version>.json`), generated
 * from the pinned Kubernetes version's own OpenAPI (swagger.json from the k8s.io/kubernetes
 * module) and from CRD files (ours, prometheus-operator's). Strict: objects refuse unknown keys,
 * as `kubeconform -strict` expects (openapi2jsonschema --strict does the same).
 *
 *   node scripts/kube-schemas.ts --swagger <swagger.json> --crd <file.yaml>... --out <dir>
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadAll } from 'js-yaml';

type Schema = Record<string, unknown>;

const { values } = parseArgs({
  options: {
    swagger: { type: 'string' },
    crd: { type: 'string', multiple: true, default: [] },
    out: { type: 'string' },
  },
});

/** kubeconform's name for a kind: `deployment-apps-v1`, `service-v1`, `rolebinding-rbac-v1`. */
function fileNameOf(kind: string, group: string, version: string): string {
  const groupPart = group === '' ? '' : `-${group.split('.')[0]!.toLowerCase()}`;
  return `${kind.toLowerCase()}${groupPart}-${version.toLowerCase()}.json`;
}

/** Strict, and the OpenAPI idioms JSON Schema lacks (int-or-string, refs into one shared file). */
function adapt(node: unknown, refPrefix: string): unknown {
  if (Array.isArray(node)) return node.map((n) => adapt(n, refPrefix));
  if (node === null || typeof node !== 'object') return node;
  const src = node as Schema;
  if (src.format === 'int-or-string') return { oneOf: [{ type: 'string' }, { type: 'integer' }] };
  const out: Schema = {};
  for (const [key, value] of Object.entries(src)) {
    if (key === '$ref' && typeof value === 'string')
      out.$ref = value.replace('#/definitions/', `${refPrefix}#/definitions/`);
    else if (key === 'x-kubernetes-int-or-string' && value === true)
      return { oneOf: [{ type: 'string' }, { type: 'integer' }] };
    else out[key] = adapt(value, refPrefix);
  }
  const open = src['x-kubernetes-preserve-unknown-fields'] === true;
  if (out.properties !== undefined && out.additionalProperties === undefined && !open) out.additionalProperties = false;
  return out;
}

function fromSwagger(path: string, dir: string): number {
  const swagger = JSON.parse(readFileSync(path, 'utf8')) as { definitions: Record<string, Schema> };
  writeFileSync(join(dir, '_definitions.json'), JSON.stringify({ definitions: adapt(swagger.definitions, '') }));
  let count = 0;
  for (const [name, definition] of Object.entries(swagger.definitions)) {
    const gvks = definition['x-kubernetes-group-version-kind'] as
      | { group: string; version: string; kind: string }[]
      | undefined;
    if (gvks === undefined) continue;
    const schema = adapt(definition, '_definitions.json') as Schema;
    for (const gvk of gvks) {
      // apiVersion and kind are checked against the document's own, so any value of the right type passes.
      writeFileSync(
        join(dir, fileNameOf(gvk.kind, gvk.group, gvk.version)),
        JSON.stringify({ ...schema, description: `${name} (from the pinned Kubernetes OpenAPI)` }),
      );
      count++;
    }
  }
  return count;
}

interface Crd {
  kind?: string;
  spec?: { group: string; names: { kind: string }; versions: { name: string; schema?: { openAPIV3Schema: Schema } }[] };
}

function fromCrds(files: readonly string[], dir: string): number {
  let count = 0;
  for (const file of files) {
    for (const doc of loadAll(readFileSync(file, 'utf8')) as Crd[]) {
      if (doc?.kind !== 'CustomResourceDefinition' || doc.spec === undefined) continue;
      for (const version of doc.spec.versions) {
        const root = structuredClone(version.schema?.openAPIV3Schema ?? { type: 'object' });
        const properties = (root.properties ?? {}) as Schema;
        // The API server fills these for every object; a CRD's schema often leaves them out.
        root.properties = {
          apiVersion: { type: 'string' },
          kind: { type: 'string' },
          metadata: { type: 'object' },
          ...properties,
        };
        writeFileSync(
          join(dir, fileNameOf(doc.spec.names.kind, doc.spec.group, version.name)),
          JSON.stringify(adapt(root, '')),
        );
        count++;
      }
    }
  }
  return count;
}

if (values.out !== undefined) {
  mkdirSync(values.out, { recursive: true });
  const kinds = values.swagger === undefined ? 0 : fromSwagger(values.swagger, values.out);
  const crds = fromCrds(values.crd!, values.out);
  process.stdout.write(`kube-schemas: ${kinds} built-in kinds, ${crds} custom kinds in ${values.out}\n`);
}
