import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { ROUTER_SETTINGS } from '../../common/settings/router-settings.ts';
import { camelCase } from '../../common/settings/setting.ts';
import { CHART_CRD_FILE, CRD_FILE, buildCrd, crdYaml } from './generate-crd.ts';
import { SETTINGS_DOC_FILE, settingsDoc } from './settings-doc.ts';

const committed = (file: string) => readFileSync(fileURLToPath(new URL(`../../${file}`, import.meta.url)), 'utf8');

for (const file of [CRD_FILE, CHART_CRD_FILE]) {
  test(`${file} is what the schema generates (run \`make crds\` after changing the schema)`, () => {
    assert.equal(committed(file), crdYaml());
  });
}

test('spec.routing has a camelCase twin of every router setting but the per-pod local_backend and the redis_* keys (spec.redis renders those)', () => {
  const spec = (buildCrd() as any).spec.versions[0].schema.openAPIV3Schema.properties.spec;
  const routing = Object.keys(spec.properties.routing.properties).sort();
  const expected = Object.keys(ROUTER_SETTINGS)
    .filter((k) => k !== 'local_backend' && !k.startsWith('redis_'))
    .map(camelCase)
    .sort();
  assert.deepEqual(routing, expected);
});

/** Every node of the schema with its path, e.g. `.spec.backends[].weight`. */
function* nodes(node: any, path: string): Generator<[string, any]> {
  yield [path, node];
  for (const [key, child] of Object.entries(node.properties ?? {})) yield* nodes(child, `${path}.${key}`);
  if (node.items !== undefined) yield* nodes(node.items, `${path}[]`);
  if (typeof node.additionalProperties === 'object') yield* nodes(node.additionalProperties, `${path}{}`);
}

test('every field has a description (what kubectl explain shows)', () => {
  const schema = (buildCrd() as any).spec.versions[0].schema.openAPIV3Schema;
  const missing = [...nodes(schema, '')]
    .filter(
      ([path, node]) =>
        !/\[\]$|\{\}$/.test(path) && !['.apiVersion', '.kind', '.metadata'].includes(path) && !node.description,
    )
    .map(([path]) => path);
  assert.deepEqual(missing, []);
});

test('the spec follows the API conventions: no floats, real maximums, durations as Gateway API strings', () => {
  const spec = (buildCrd() as any).spec.versions[0].schema.openAPIV3Schema.properties.spec;
  const problems: string[] = [];
  for (const [path, node] of nodes(spec, '.spec')) {
    if (node.type === 'number') problems.push(`${path}: a float`);
    if (node.type === 'integer' && (node.maximum === undefined || node.maximum >= Number.MAX_SAFE_INTEGER))
      problems.push(`${path}: no real maximum`);
  }
  assert.deepEqual(problems, []);
  const routing = spec.properties.routing.properties;
  assert.equal(routing.defaultTimeout.pattern, '^([0-9]{1,5}(h|m|s|ms)){1,4}$');
  assert.match(
    routing.defaultTimeout['x-kubernetes-validations'][0].rule,
    /duration\(self\) > duration\('0s'\) && duration\(self\) <= duration\('1h'\)/,
  );
  assert.deepEqual(
    [spec.properties.backends.items.properties.weight.type, spec.properties.backends.items.properties.weight.maximum],
    ['integer', 1_000_000],
  );
});

test('the schema is structural: no keys Kubernetes rejects, every list and string bounded', () => {
  const schema = (buildCrd() as any).spec.versions[0].schema.openAPIV3Schema;
  const problems: string[] = [];
  const walk = (node: any, path: string) => {
    if (node === null || typeof node !== 'object') return;
    for (const bad of ['$schema', 'propertyNames', 'anyOf', 'oneOf', 'const'])
      if (bad in node) problems.push(`${path}: ${bad}`);
    if (node.type === 'array' && node.maxItems === undefined) problems.push(`${path}: unbounded array`);
    if (
      node.type === 'string' &&
      node.maxLength === undefined &&
      node.enum === undefined &&
      !path.endsWith('.apiVersion') &&
      !path.endsWith('.kind')
    )
      problems.push(`${path}: unbounded string`);
    for (const [key, child] of Object.entries(node)) if (key !== 'default') walk(child, `${path}.${key}`);
  };
  walk(schema, '');
  assert.deepEqual(problems, []);
});

test(`${SETTINGS_DOC_FILE} is what the declarations and the CRD generate (run \`make crds\`)`, () => {
  assert.equal(committed(SETTINGS_DOC_FILE), settingsDoc());
});
