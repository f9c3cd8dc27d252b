/**
 * The operator with an exec-plugin kubeconfig (client.authentication.k8s.io/v1, as EKS, GKE and
 * AKS write them) against the real kube-apiserver: a tiny script plugin hands out the token; the
 * operator leads, renders a pool, and the plugin ran once (its token cached; no expiry given).
 */
import assert from 'node:assert/strict';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { freePort } from '../test/support/ports.ts';
import { Cluster, type User } from './support/cluster.ts';
import { eventually, startProcess, stopAll } from './support/processes.ts';

const NS = 'rrlb-exec';
const OPERATOR: User = { name: 'exec-operator', token: 'exec-operator-token', groups: ['system:masters'] };

let cluster: Cluster;

before(async () => {
  cluster = new Cluster([OPERATOR]);
  await cluster.start();
  cluster.kubectl(['apply', '-f', 'crds/']);
  cluster.kubectl(['wait', '--for=condition=Established', 'crd/rerankerpools.reranker.dev', '--timeout=30s']);
  cluster.kubectl(['create', 'namespace', NS]);
});

after(async () => {
  await stopAll();
  await cluster?.stop();
});

test('an operator whose kubeconfig runs an exec plugin leads and renders a pool', async () => {
  const plugin = join(cluster.dir, 'token-plugin.sh');
  writeFileSync(
    plugin,
    `#!/bin/sh
echo run >> "${cluster.dir}/plugin-runs.log"
printf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"%s"}}' "$TOKEN_FOR_TEST"
`,
  );
  chmodSync(plugin, 0o755);
  const ca = readFileSync(join(cluster.dir, 'certs', 'apiserver.crt')).toString('base64');
  const kubeconfig = join(cluster.dir, 'kubeconfig-exec');
  writeFileSync(
    kubeconfig,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'e2e', cluster: { server: cluster.url, 'certificate-authority-data': ca } }],
      users: [
        {
          name: 'exec',
          user: {
            exec: {
              apiVersion: 'client.authentication.k8s.io/v1',
              command: './token-plugin.sh',
              env: [{ name: 'TOKEN_FOR_TEST', value: OPERATOR.token }],
              interactiveMode: 'Never',
              installHint: 'the test writes it',
            },
          },
        },
      ],
      contexts: [{ name: 'e2e', context: { cluster: 'e2e', user: 'exec' } }],
      'current-context': 'e2e',
    }),
  );
  const port = await freePort();
  const operator = startProcess('exec-operator', 'operator/main.ts', {
    KUBECONFIG: kubeconfig,
    POD_NAMESPACE: NS,
    POD_NAME: 'exec-operator',
    WATCH_NAMESPACES: NS,
    OPERATOR_PORT: String(port),
    OPERATOR_HOST: '127.0.0.1',
  });
  cluster.apply({
    apiVersion: 'reranker.dev/v1alpha1',
    kind: 'RerankerPool',
    metadata: { name: 'search', namespace: NS },
    spec: { backends: [{ name: 'a', apiBase: 'http://10.0.0.1:8080' }] },
  });
  await eventually(
    () =>
      cluster
        .getJson(['rrp', 'search', '-n', NS])
        .status?.conditions?.some(
          (c: { type: string; status: string }) => c.type === 'ConfigRendered' && c.status === 'True',
        ),
    30_000,
    'the pool to be rendered',
  );
  assert.match(cluster.getJson(['lease', 'reranker-lb-operator', '-n', NS]).spec.holderIdentity, /^exec-operator_/);
  assert.ok(
    cluster
      .getJson(['configmap', 'search-reranker-config', '-n', NS])
      .data['reranker_config.yaml'].includes('http://10.0.0.1:8080'),
  );
  assert.equal(
    readFileSync(join(cluster.dir, 'plugin-runs.log'), 'utf8').trim().split('\n').length,
    1,
    'the token is cached: one plugin run',
  );
  assert.ok(!operator.text().includes(OPERATOR.token), 'the token is never logged');
});
