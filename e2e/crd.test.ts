/**
 * The RerankerPool CRD as a Kubernetes API, against a real kube-apiserver: `kubectl explain`
 * describes every field, Gateway API durations and integer weights are checked by the apiserver
 * (with the field and the bound in the message), label selectors take matchExpressions, Secret
 * names take dots, and the printer columns show the defaulted strategy and, in -o wide, why a pool
 * is (not) Ready.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { buildCrd } from '../operator/crd/generate-crd.ts';
import { Cluster } from './support/cluster.ts';

const NS = 'rrlb-crd';
let cluster: Cluster;

function pool(name: string, spec: Record<string, unknown>): string {
  return JSON.stringify({
    apiVersion: 'reranker.dev/v1alpha1',
    kind: 'RerankerPool',
    metadata: { name, namespace: NS },
    spec,
  });
}

const backend = (extra: Record<string, unknown> = {}) => ({ name: 'a', apiBase: 'http://198.18.0.1:8080', ...extra });

before(async () => {
  cluster = new Cluster([]);
  await cluster.start();
  cluster.kubectl(['apply', '-f', 'crds/']);
  cluster.kubectl(['wait', '--for=condition=Established', 'crd/rerankerpools.reranker.dev', '--timeout=30s']);
  cluster.kubectl(['create', 'namespace', NS]);
  // kubectl explain reads the published OpenAPI, which trails the Established condition a little.
  for (let i = 0; ; i++) {
    try {
      cluster.kubectl(['explain', 'rerankerpool.spec']);
      break;
    } catch (error) {
      if (i === 60) throw error;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
});

after(async () => {
  await cluster?.stop();
});

/** The object fields of the schema, as kubectl explain paths (`spec.backends`, `spec.routing.canary`, ...). */
function objectPaths(node: any, path: string): string[] {
  const target = node.items ?? node;
  if (target.properties === undefined) return [];
  return [path, ...Object.entries(target.properties).flatMap(([key, child]) => objectPaths(child, `${path}.${key}`))];
}

/** FIELDS of `kubectl explain <path>`: name -> its description (the lines under it). */
function explainFields(path: string): Map<string, string> {
  const out = cluster.kubectl(['explain', `rerankerpool.${path}`]);
  const fields = new Map<string, string>();
  const lines = out.slice(out.indexOf('FIELDS:')).split('\n').slice(1);
  let current: string | undefined;
  for (const line of lines) {
    const field = /^ {2}(\w+)\t<[^>]+>/.exec(line);
    if (field) {
      current = field[1]!;
      fields.set(current, '');
    } else if (current !== undefined && line.trim() !== '' && !/^\s+enum: /.test(line))
      fields.set(current, `${fields.get(current)} ${line.trim()}`.trim());
  }
  return fields;
}

describe('kubectl explain', () => {
  test('describes every field of every object in spec and status', () => {
    const root = (buildCrd() as any).spec.versions[0].schema.openAPIV3Schema;
    const paths = [...objectPaths(root.properties.spec, 'spec'), ...objectPaths(root.properties.status, 'status')];
    assert.ok(paths.length >= 10, paths.join(' '));
    const undescribed: string[] = [];
    let seen = 0;
    for (const path of paths) {
      const schema = path
        .split('.')
        .slice(1)
        .reduce((n: any, key) => (n.items ?? n).properties[key], root.properties[path.split('.')[0]!]);
      const fields = explainFields(path);
      assert.deepEqual(
        [...fields.keys()].sort(),
        Object.keys((schema.items ?? schema).properties).sort(),
        `kubectl explain rerankerpool.${path} lists the schema's fields`,
      );
      for (const [name, description] of fields) {
        seen++;
        if (description === '') undescribed.push(`${path}.${name}`);
      }
    }
    assert.ok(seen > 100, `${seen} fields`);
    assert.deepEqual(undescribed, []);
    assert.match(explainFields('spec.routing').get('defaultTimeout')!, /Deadline of the whole request/);
  });
});

describe('validation by the apiserver', () => {
  test('durations are Gateway API strings with bounds; weights are integers; fractions are decimal strings; each message names the field', () => {
    const refused = (spec: Record<string, unknown>) =>
      cluster.kubectlFails(['apply', '-f', '-'], { input: pool('bad', spec) });
    assert.match(
      refused({ routing: { defaultTimeout: 30 }, backends: [backend()] }),
      /spec\.routing\.defaultTimeout: Invalid value: "integer": spec\.routing\.defaultTimeout in body must be of type string/,
    );
    assert.match(
      refused({ routing: { defaultTimeout: '30' }, backends: [backend()] }),
      /spec\.routing\.defaultTimeout in body should match/,
    );
    assert.match(
      refused({ routing: { defaultTimeout: '2h' }, backends: [backend()] }),
      /spec\.routing\.defaultTimeout: Invalid value: "string": must be > 0s and <= 1h/,
    );
    assert.match(
      refused({ routing: { retryDelay: '0s', defaultTimeout: '0s' }, backends: [backend()] }),
      /spec\.routing\.defaultTimeout: Invalid value: "string": must be > 0s/,
    );
    assert.match(
      refused({ backends: [backend({ weight: 1.5 })] }),
      /spec\.backends\[0\]\.weight: Invalid value: "number": spec\.backends\[0\]\.weight in body must be of type integer/,
    );
    assert.match(
      refused({ backends: [backend({ weight: 1_000_001 })] }),
      /spec\.backends\[0\]\.weight: Invalid value: 1000001: spec\.backends\[0\]\.weight in body should be less than or equal to 1000000/,
    );
    assert.match(
      refused({ routing: { canary: { threshold: '1.5' } }, backends: [backend()] }),
      /spec\.routing\.canary\.threshold: Invalid value: "string": must be from -1 to 1/,
    );
    assert.match(
      refused({ backends: [backend({ timeout: '90m' })] }),
      /spec\.backends\[0\]\.timeout: Invalid value: "string": must be > 0s and <= 1h/,
    );
    assert.match(
      refused({ backends: [backend()], sidecarSelector: { matchExpressions: [{ key: 'app', operator: 'In' }] } }),
      /spec\.sidecarSelector\.matchExpressions\[0\]: Invalid value: "object": In and NotIn need values/,
    );
  });

  test('a valid pool with durations, a dotted Secret name and matchExpressions is accepted; the strategy column shows the default', () => {
    cluster.kubectl(['apply', '-f', '-'], {
      input: pool('good', {
        routing: {
          retryDelay: '250ms',
          defaultTimeout: '1m30s',
          healthCheckInterval: '0s',
          canary: { interval: '5m', threshold: '0.75' },
          failureThresholdPercent: 40,
        },
        backends: [backend({ weight: 3, timeout: '10s', apiKeySecretRef: { name: 'cohere.prod', key: 'api-key' } })],
        sidecarSelector: {
          matchExpressions: [
            { key: 'app', operator: 'In', values: ['search'] },
            { key: 'canary', operator: 'DoesNotExist' },
          ],
        },
      }),
    });
    const stored = cluster.getJson(['rrp', 'good', '-n', NS]);
    assert.equal(stored.spec.routing.routingStrategy, 'weighted-random', 'the apiserver fills the default in');
    assert.match(cluster.kubectl(['get', 'rrp', '-n', NS]), /good\s+weighted-random/);
    assert.match(
      cluster.kubectl(['get', 'rrp', '-n', NS, '-o', 'wide']).split('\n')[0]!,
      /INJECTED\s+VERSION\s+MESSAGE/,
    );
  });

  test('a condition written by anyone must follow metav1.Condition', () => {
    cluster.kubectl(['apply', '-f', '-'], { input: pool('cond', { backends: [backend()] }) });
    const patch = (condition: Record<string, unknown>) =>
      cluster.kubectlFails([
        'patch',
        'rrp',
        'cond',
        '-n',
        NS,
        '--subresource=status',
        '--type=merge',
        '-p',
        JSON.stringify({ status: { conditions: [condition] } }),
      ]);
    const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    assert.match(
      patch({ type: 'Ready', status: 'Maybe', reason: 'X', message: '', lastTransitionTime: now }),
      /status\.conditions\[0\]\.status: Unsupported value: "Maybe"/,
    );
    assert.match(
      patch({ type: 'Ready', status: 'True', reason: 'not camel case', message: '', lastTransitionTime: now }),
      /status\.conditions\[0\]\.reason: Invalid value: "not camel case": conditions\[0\]\.reason in body should match/,
    );
    assert.match(
      patch({ type: 'Ready', status: 'True', reason: 'Fine', message: '' }),
      /status\.conditions\[0\]\.lastTransitionTime: Required value/,
    );
  });
});
