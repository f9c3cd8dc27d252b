/**
 * The operator keeps a pool's sidecar_count from its sidecar pods, against a real kube-apiserver +
 * etcd. There is no controller-manager here, so the test plays the Deployment: it creates and
 * deletes the pods (labelled as the sidecar's) for 2 -> 6 -> 3 replicas. A higher count is
 * rendered at once; a lower one after the stabilization window (3 s here, 60 s by default).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { load } from 'js-yaml';
import { ADMIN, Cluster } from './support/cluster.ts';
import { freePort } from '../test/support/ports.ts';
import { eventually, startProcess, stopAll } from './support/processes.ts';

const NS = 'rrlb-count';
const POOL = 'scaled';
let cluster: Cluster;

function pod(i: number): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: `search-${i}`, namespace: NS, labels: { app: 'search', 'reranker.dev/sidecar': 'true' } },
    spec: { containers: [{ name: 'app', image: 'example/app:1' }] },
  };
}

function renderedCount(): number | undefined {
  const cm = cluster.getJson(['configmap', `${POOL}-reranker-config`, '-n', NS]);
  const doc = load(cm.data['reranker_config.yaml']) as { router_settings: { sidecar_count?: number } };
  return doc.router_settings.sidecar_count ?? 1;
}

function status(): { rendered: number; observed: number; loweringSince?: string } | undefined {
  return cluster.getJson(['rerankerpool', POOL, '-n', NS]).status?.sidecarCount;
}

before(async () => {
  cluster = new Cluster([]);
  await cluster.start();
  cluster.kubectl(['apply', '-f', 'crds/']);
  cluster.kubectl(['wait', '--for=condition=Established', 'crd/rerankerpools.reranker.dev', '--timeout=30s']);
  cluster.kubectl(['create', 'namespace', NS]);
  startProcess('operator', 'operator/main.ts', {
    KUBECONFIG: cluster.kubeconfig(ADMIN),
    POD_NAMESPACE: NS,
    OPERATOR_PORT: String(await freePort()),
    OPERATOR_HOST: '127.0.0.1',
    OPERATOR_SIDECAR_RESYNC_SECONDS: '2',
    OPERATOR_SIDECAR_COUNT_STABILIZATION_SECONDS: '3',
  });
  cluster.apply({
    apiVersion: 'reranker.dev/v1alpha1',
    kind: 'RerankerPool',
    metadata: { name: POOL, namespace: NS },
    spec: {
      sidecarSelector: { matchLabels: { app: 'search' } },
      backends: [{ name: 'tei', apiBase: 'http://tei.invalid:8080', rpm: 120 }],
    },
  });
});

after(async () => {
  await stopAll();
  await cluster?.stop();
});

test('a Deployment scaled 2 -> 6 -> 3 moves sidecar_count and the pool status with it (down only after the stabilization window)', async () => {
  cluster.apply([pod(1), pod(2)]);
  await eventually(() => status()?.rendered === 2 && renderedCount() === 2, 20_000, 'sidecar_count 2');

  const up = Date.now();
  cluster.apply([3, 4, 5, 6].map(pod));
  await eventually(() => status()?.rendered === 6 && renderedCount() === 6, 20_000, 'sidecar_count 6');
  assert.ok(Date.now() - up < 10_000, 'a higher count is rendered at once');

  const down = Date.now();
  cluster.kubectl([
    'delete',
    'pod',
    'search-4',
    'search-5',
    'search-6',
    '-n',
    NS,
    '--wait=false',
    '--grace-period=0',
    '--force',
  ]);
  await eventually(() => status()?.observed === 3, 20_000, 'the status observes 3 pods');
  // Still 6 while the lower count has not held for the window: a rolling update's surge never flaps it.
  const pending = status()!;
  assert.equal(renderedCount(), 6);
  assert.equal(pending.rendered, 6);
  assert.ok(pending.loweringSince !== undefined);
  await eventually(() => status()?.rendered === 3 && renderedCount() === 3, 30_000, 'sidecar_count 3');
  assert.ok(Date.now() - down >= 3000, 'not before the stabilization window');
  assert.equal(status()?.loweringSince, undefined);
});
