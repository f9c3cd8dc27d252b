import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { AWAITING_CONFIGMAP_SOURCE } from '../config/load.ts';
import { ConfigError } from '../errors.ts';
import { KubernetesSource } from './config-source.ts';

const yaml = (name: string) =>
  `model_list:\n  - { model_name: ${name}, litellm_params: { api_base: "http://${name}:1" } }\n`;
const cm = { namespace: 'app', name: 'pool-reranker-config' };

function mounted(text: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'rlb-src-')), 'reranker_config.yaml');
  writeFileSync(path, text);
  return path;
}

describe('one source of truth: the ConfigMap through the API', () => {
  test('the mounted file serves only until the API delivers; a stale mount never wins afterwards', () => {
    const path = mounted(yaml('stale'));
    const source = new KubernetesSource(cm, path, {});
    assert.equal(source.initial().backends[0]!.name, 'stale');
    source.receive(yaml('fresh'));
    assert.equal(source.load().backends[0]!.name, 'fresh');
    writeFileSync(path, yaml('older')); // the kubelet's projection, 60-120 s behind
    assert.equal(source.load().backends[0]!.name, 'fresh', 'the periodic re-check must not revert to the file');
    assert.equal(source.load().source, 'configmap app/pool-reranker-config');
  });

  test('no mounted file yet: start on an empty config that is not ready, and wait', () => {
    const source = new KubernetesSource(cm, join(tmpdir(), 'no-such-dir', 'reranker_config.yaml'), {});
    assert.equal(source.initial().source, AWAITING_CONFIGMAP_SOURCE);
    assert.throws(() => source.load(), ConfigError, 'a reload before the API delivers keeps the waiting config');
  });

  test('an unreadable or invalid mount is not fatal either', () => {
    const source = new KubernetesSource(cm, mounted('model_list: [ {'), {});
    assert.equal(source.initial().source, AWAITING_CONFIGMAP_SOURCE);
  });

  test('a ConfigMap without the config key is refused with the path', () => {
    const source = new KubernetesSource(cm, undefined, {});
    source.receive(undefined);
    assert.throws(
      () => source.load(),
      (e: unknown) => e instanceof ConfigError && e.problems[0] === 'data.reranker_config.yaml: missing',
    );
  });
});
