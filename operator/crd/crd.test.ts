import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { routerSettingsSchema } from '../../common/config-schema.ts';
import { CHART_CRD_FILE, CRD_FILE, buildCrd, crdYaml } from './generate-crd.ts';
import { ROUTING_KEYS, camelCase } from './pool-schema.ts';

const committed = (file: string) => readFileSync(fileURLToPath(new URL(`../../${file}`, import.meta.url)), 'utf8');

for (const file of [CRD_FILE, CHART_CRD_FILE]) {
  test(`${file} is what the schema generates (run \`make crds\` after changing the schema)`, () => {
    assert.equal(committed(file), crdYaml());
  });
}

test('spec.routing has a camelCase twin of every router_settings key but local_backend', () => {
  const spec = (buildCrd() as any).spec.versions[0].schema.openAPIV3Schema.properties.spec;
  const routing = Object.keys(spec.properties.routing.properties).sort();
  const expected = Object.keys(routerSettingsSchema.shape).filter((k) => k !== 'local_backend').map(camelCase).sort();
  assert.deepEqual(routing, expected);
  assert.equal(ROUTING_KEYS.get('numRetries'), 'num_retries');
});

test('the schema is structural: no keys Kubernetes rejects, every list and string bounded', () => {
  const schema = (buildCrd() as any).spec.versions[0].schema.openAPIV3Schema;
  const problems: string[] = [];
  const walk = (node: any, path: string) => {
    if (node === null || typeof node !== 'object') return;
    for (const bad of ['$schema', 'propertyNames', 'anyOf', 'oneOf', 'const']) if (bad in node) problems.push(`${path}: ${bad}`);
    if (node.type === 'array' && node.maxItems === undefined) problems.push(`${path}: unbounded array`);
    if (node.type === 'string' && node.maxLength === undefined && node.enum === undefined && !path.endsWith('.apiVersion') && !path.endsWith('.kind')) problems.push(`${path}: unbounded string`);
    for (const [key, child] of Object.entries(node)) if (key !== 'default') walk(child, `${path}.${key}`);
  };
  walk(schema, '');
  assert.deepEqual(problems, []);
});
