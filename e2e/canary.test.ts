/**
 * One canary per pool, against a real kube-apiserver + etcd: the operator names one of the pool's
 * sidecar pods in the canary plan ConfigMap; five sidecar processes (on 198.18.<net>.x, with their
 * pod names) follow it. Canary calls are counted at three fake backends: one sidecar's worth per
 * interval, not five. A backend turned inconsistent is ejected by every sidecar, though only one
 * called it; and when the runner's pod goes, another takes over.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startFakeReranker, type FakeReranker } from '../test/fake-reranker/fake-reranker.ts';
import { ADMIN, Cluster, serviceAccountUser } from './support/cluster.ts';
import { freePort } from '../test/support/ports.ts';
import { setUpAddresses, tearDownAddresses } from './support/net.ts';
import { eventually, startProcess, stopAll, type Proc } from './support/processes.ts';

const NS = 'rrlb-canary';
const SIDECAR = serviceAccountUser(NS, 'reranker-sidecar');
const SIDECARS = 5;
const INTERVAL_S = 1;

let cluster: Cluster;
let ips: string[];
const fakes: FakeReranker[] = [];
const sidecars = new Map<string, { proc: Proc; url: string }>();

async function json(url: string): Promise<any> {
  return (await fetch(url)).json();
}

const podName = (i: number) => `search-api-${i}`;

function startSidecar(i: number): void {
  const ip = ips[3 + i]!;
  cluster.apply({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: podName(i), namespace: NS, labels: { app: 'search-api', 'reranker.dev/sidecar': 'true' } },
    spec: { containers: [{ name: 'app', image: 'example/app:1' }] },
  });
  cluster.kubectl([
    'patch',
    'pod',
    podName(i),
    '-n',
    NS,
    '--subresource=status',
    '--type=merge',
    '-p',
    JSON.stringify({ status: { podIP: ip, podIPs: [{ ip }] } }),
  ]);
  const proc = startProcess(podName(i), 'sidecar/main.ts', {
    RERANKER_LOAD_BALANCER_ENABLED: 'true',
    RERANKER_CONFIGMAP_NAME: 'search-reranker-config',
    RERANKER_CONFIGMAP_NAMESPACE: NS,
    POD_NAME: podName(i),
    KUBECONFIG: cluster.kubeconfig(SIDECAR),
    RERANKER_LB_HOST: ip,
    RERANKER_LB_PORT: '8000',
    RERANKER_SHUTDOWN_DELAY_SECONDS: '0',
  });
  sidecars.set(podName(i), { proc, url: `http://${ip}:8000` });
}

const plan = (): { runner: string | null; inconsistent: string[] } | undefined => {
  const cm = cluster
    .getJson(['configmap', '-n', NS, '-l', 'reranker.dev/pool=search'])
    .items.find((c: any) => c.metadata.name === 'search-reranker-config-canary');
  return cm === undefined ? undefined : JSON.parse(cm.data['canary.json']);
};
const calls = () => fakes.map((f) => f.stats.requests);

before(async () => {
  ips = setUpAddresses(3 + SIDECARS);
  cluster = new Cluster([SIDECAR]);
  await cluster.start();
  cluster.kubectl(['apply', '-f', 'crds/']);
  cluster.kubectl(['wait', '--for=condition=Established', 'crd/rerankerpools.reranker.dev', '--timeout=30s']);
  cluster.kubectl(['create', 'namespace', NS]);
  // What the operator's per-pool Role grants injected sidecars: the config and the canary plan.
  cluster.apply([
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { name: 'reranker-sidecar', namespace: NS },
      rules: [
        {
          apiGroups: [''],
          resources: ['configmaps'],
          resourceNames: ['search-reranker-config', 'search-reranker-config-canary'],
          verbs: ['get', 'list', 'watch'],
        },
      ],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: 'reranker-sidecar', namespace: NS },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'reranker-sidecar' },
      subjects: [{ kind: 'ServiceAccount', name: 'reranker-sidecar', namespace: NS }],
    },
  ]);
  for (let i = 0; i < 3; i++) fakes.push(await startFakeReranker({ host: ips[i], port: 8080, name: `b${i + 1}` }));
  cluster.apply({
    apiVersion: 'reranker.dev/v1alpha1',
    kind: 'RerankerPool',
    metadata: { name: 'search', namespace: NS },
    spec: {
      routing: { healthCheckInterval: '0s', canary: { interval: `${INTERVAL_S}s`, action: 'eject' } },
      backends: fakes.map((f, i) => ({ name: f.name, apiBase: `http://${ips[i]}:8080` })),
      sidecarSelector: { matchLabels: { app: 'search-api' } },
    },
  });
  startProcess('operator', 'operator/main.ts', {
    KUBECONFIG: cluster.kubeconfig(ADMIN),
    POD_NAMESPACE: NS,
    LEADER_ELECT: 'false',
    OPERATOR_PORT: String(await freePort()),
    OPERATOR_HOST: '127.0.0.1',
    OPERATOR_SIDECAR_RESYNC_SECONDS: '1',
  });
  for (let i = 0; i < SIDECARS; i++) startSidecar(i);
});

after(async () => {
  await stopAll();
  await Promise.all(fakes.map((f) => f.close()));
  await cluster?.stop();
  tearDownAddresses();
});

test('five sidecars, one canary: calls per backend per interval are those of one sidecar; verdicts reach all five', async (t) => {
  const roles = await eventually(
    async () => {
      const views = await Promise.all(
        [...sidecars.values()].map(
          async (s) => (await json(`${s.url}/lb/config`).catch(() => ({}))).canary?.role as string | undefined,
        ),
      );
      return (
        views.filter((r) => r === 'runner').length === 1 &&
        views.filter((r) => r === 'follower').length === SIDECARS - 1 &&
        views
      );
    },
    30_000,
    'one runner and four followers',
  );
  assert.equal(roles.length, SIDECARS);
  const runner = plan()!.runner!;
  assert.equal(runner, podName(0), 'the first pod by name');
  // What every sidecar's watch receives when the plan changes (managedFields included).
  t.diagnostic(
    `plan ConfigMap: ${JSON.stringify(cluster.getJson(['configmap', 'search-reranker-config-canary', '-n', NS, '--show-managed-fields'])).length} bytes of JSON`,
  );

  const before = calls();
  const windowS = 10;
  await new Promise((r) => setTimeout(r, windowS * 1000));
  const made = calls().map((n, i) => n - before[i]!);
  t.diagnostic(
    `canary calls per backend in ${windowS} s at a ${INTERVAL_S} s interval with ${SIDECARS} sidecars: ${made.join(', ')}`,
  );
  // One sidecar's rounds: about windowS / INTERVAL_S each (a round takes a few ms; the timer restarts after it).
  for (const n of made)
    assert.ok(
      n >= (windowS / INTERVAL_S) * 0.5 && n <= (windowS / INTERVAL_S) * 1.5 + 1,
      `canary calls per backend in ${windowS} s: ${made.join(', ')} (five own canaries would make ~${(SIDECARS * windowS) / INTERVAL_S})`,
    );

  // b3 turns into another model: the runner sees it; the plan carries it to every sidecar, which ejects it.
  fakes[2]!.set({ scoring: 'reversed' });
  await eventually(() => plan()?.inconsistent.includes('b3') === true, 15_000, 'the plan to name b3');
  await eventually(
    async () => {
      const stats = await Promise.all([...sidecars.values()].map(async (s) => json(`${s.url}/lb/stats`)));
      return stats.every(
        (st) =>
          st.backends.find((b: any) => b.name === 'b3')?.consistency === 'inconsistent' &&
          st.backends.find((b: any) => b.name === 'b3')?.available === false,
      );
    },
    10_000,
    'every sidecar to eject b3',
  );
});

test("the runner's pod goes: another sidecar runs the canary, still one", async (t) => {
  const old = plan()!.runner!;
  await sidecars.get(old)!.proc.stop('SIGKILL');
  sidecars.delete(old);
  cluster.kubectl(['delete', 'pod', old, '-n', NS, '--grace-period=0', '--force']);
  const next = await eventually(
    () => {
      const r = plan()?.runner;
      return r !== undefined && r !== null && r !== old && r;
    },
    15_000,
    'a new runner',
  );
  await eventually(
    async () => (await json(`${sidecars.get(next)!.url}/lb/config`)).canary?.role === 'runner',
    10_000,
    'the new runner to run it',
  );
  const before = calls();
  await new Promise((r) => setTimeout(r, 5000));
  const made = calls().map((n, i) => n - before[i]!);
  t.diagnostic(`after the takeover by ${next}: canary calls per backend in 5 s: ${made.join(', ')}`);
  for (const n of made)
    assert.ok(n >= 2 && n <= 5 * 1.5 + 1, `canary calls per backend in 5 s after the takeover: ${made.join(', ')}`);
});
