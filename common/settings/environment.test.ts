import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { load } from 'js-yaml';
import { envValue, SIDECAR_ENV, SIDECAR_PORT } from './environment.ts';
import { OPERATOR_ENV } from './operator-environment.ts';

const ROOT = new URL('../../', import.meta.url).pathname;

function* sources(dir: string): Generator<string> {
  for (const entry of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* sources(path);
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts')) yield path;
  }
}

test('every RERANKER_* variable the code names is declared (the RERANKER_KEY_* names are generated per Secret)', () => {
  const declared = new Set(Object.keys(SIDECAR_ENV));
  const undeclared = new Set<string>();
  for (const dir of ['sidecar', 'operator', 'common']) {
    for (const file of sources(dir)) {
      for (const [name] of readFileSync(join(ROOT, file), 'utf8').matchAll(/\bRERANKER_[A-Z0-9_]*[A-Z0-9]\b/g)) {
        if (!declared.has(name) && !name.startsWith('RERANKER_KEY_')) undeclared.add(`${name} (${file})`);
      }
    }
  }
  assert.deepEqual([...undeclared], []);
});

test("the operator's variables: every one it reads is declared, every declared one is read", () => {
  // Set by the kubelet in every pod, not by anyone configuring the operator.
  const kubelet = new Set(['KUBERNETES_SERVICE_HOST', 'KUBERNETES_SERVICE_PORT']);
  const read = new Set<string>();
  for (const dir of ['operator', 'kube']) {
    for (const file of sources(dir)) {
      // `env.NAME`, or a name held in a constant (`env: 'NAME'`) and read as env[constant].
      for (const [, dotted, quoted] of readFileSync(join(ROOT, file), 'utf8').matchAll(
        /\benv\.([A-Z][A-Z0-9_]*)\b|\benv: '([A-Z][A-Z0-9_]*)'/g,
      )) {
        const name = (dotted ?? quoted)!;
        if (!kubelet.has(name)) read.add(name);
      }
    }
  }
  const declared = new Set(
    Object.entries(OPERATOR_ENV).flatMap(([name, v]) => ('alias' in v ? [name, v.alias] : [name])),
  );
  assert.deepEqual(
    [...read].filter((n) => !declared.has(n)),
    [],
    'read but not declared',
  );
  assert.deepEqual(
    [...declared].filter((n) => !read.has(n)),
    [],
    'declared but read nowhere',
  );
});

test('a variable or its alias; an empty one is unset', () => {
  assert.equal(envValue({ PORT: '9000' }, 'RERANKER_LB_PORT'), '9000');
  assert.equal(envValue({ RERANKER_LB_PORT: '9100', PORT: '9000' }, 'RERANKER_LB_PORT'), '9100');
  assert.equal(envValue({ RERANKER_LB_PORT: '', PORT: '' }, 'RERANKER_LB_PORT'), undefined);
});

test('the YAML that cannot import the port states the same one', () => {
  const values = load(readFileSync(join(ROOT, 'charts/reranker-lb/values.yaml'), 'utf8')) as {
    networkPolicy: { sidecarPort: number };
    gateway: { port: number };
  };
  assert.deepEqual([values.networkPolicy.sidecarPort, values.gateway.port], [SIDECAR_PORT, SIDECAR_PORT]);
  assert.match(
    readFileSync(join(ROOT, 'images/sidecar.Containerfile'), 'utf8'),
    new RegExp(`^EXPOSE ${SIDECAR_PORT}$`, 'm'),
  );
});
