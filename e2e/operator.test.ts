/**
 * The operator against a real kube-apiserver + etcd: CRD validation, rendering, EndpointSlice
 * discovery, sidecar hot reload through the ConfigMap watch, status conditions (applied beside
 * other managers' conditions), key references, the operator's API and work-queue metrics,
 * recovery from an apiserver restart, and leader election between two replicas.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startFakeReranker, type FakeReranker } from '../test/fake-reranker/fake-reranker.ts';
import { ADMIN, Cluster, serviceAccountUser } from './support/cluster.ts';
import { freePort } from '../test/support/ports.ts';
import { setUpAddresses, tearDownAddresses } from './support/net.ts';
import { eventually, startProcess, stopAll, type Proc } from './support/processes.ts';
import { KubeApi } from '../kube/api.ts';
import { loadKubeConnection } from '../kube/kubeconfig.ts';

const NS = 'rrlb-e2e';
const SIDECAR = serviceAccountUser(NS, 'reranker-sidecar');
const QUERY = { query: 'capital of France', documents: ['Paris is the capital of France.', 'Berlin is in Germany.'] };

let cluster: Cluster;
let ips: string[];
const fakes: FakeReranker[] = [];
let operator: Proc;
let operatorPort: number;
let operatorStartedAt: number;
let searchSidecars: Proc[] = [];

async function json(url: string, init?: RequestInit): Promise<any> {
  const res = await fetch(url, init);
  return res.json();
}

function pool(name: string, spec: Record<string, unknown>): Record<string, unknown> {
  return { apiVersion: 'reranker.dev/v1alpha1', kind: 'RerankerPool', metadata: { name, namespace: NS }, spec };
}

function condition(p: any, type: string): any {
  return p.status?.conditions?.find((c: any) => c.type === type);
}

function slice(name: string, endpoints: { ip: string; pod: string; ready?: boolean }[]): Record<string, unknown> {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name, namespace: NS, labels: { 'kubernetes.io/service-name': 'tei' } },
    addressType: 'IPv4',
    ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
    endpoints: endpoints.map((e) => ({
      addresses: [e.ip],
      conditions: { ready: e.ready ?? true },
      targetRef: { kind: 'Pod', name: e.pod, namespace: NS },
    })),
  };
}

function sidecarPod(name: string, ip: string, app: string): void {
  cluster.apply({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: NS, labels: { app, 'reranker.dev/sidecar': 'true' } },
    spec: { containers: [{ name: 'app', image: 'example/app:1' }] },
  });
  cluster.kubectl([
    'patch',
    'pod',
    name,
    '-n',
    NS,
    '--subresource=status',
    '--type=merge',
    '-p',
    JSON.stringify({ status: { podIP: ip, podIPs: [{ ip }] } }),
  ]);
}

function startSidecar(name: string, ip: string, configMap: string, extraEnv: Record<string, string> = {}): Proc {
  return startProcess(name, 'sidecar/main.ts', {
    RERANKER_LOAD_BALANCER_ENABLED: 'true',
    RERANKER_CONFIGMAP_NAME: configMap,
    RERANKER_CONFIGMAP_NAMESPACE: NS,
    KUBECONFIG: cluster.kubeconfig(SIDECAR),
    RERANKER_LB_HOST: ip,
    RERANKER_LB_PORT: '8000',
    RERANKER_LOCAL_BACKEND_URL: `http://${ips[11]}:8080`,
    RERANKER_SHUTDOWN_DELAY_SECONDS: '0',
    ...extraEnv,
  });
}

function startOperator(name: string, port: number): Proc {
  // Synced sidecars are asked again every 2 s here (30 s by default).
  return startProcess(name, 'operator/main.ts', {
    KUBECONFIG: cluster.kubeconfig(ADMIN),
    POD_NAMESPACE: NS,
    POD_NAME: name,
    OPERATOR_PORT: String(port),
    OPERATOR_HOST: '127.0.0.1',
    OPERATOR_SIDECAR_RESYNC_SECONDS: '2',
  });
}

before(async () => {
  ips = setUpAddresses(12);
  cluster = new Cluster([SIDECAR]);
  await cluster.start();
  cluster.kubectl(['apply', '-f', 'crds/']);
  cluster.kubectl(['wait', '--for=condition=Established', 'crd/rerankerpools.reranker.dev', '--timeout=30s']);
  cluster.kubectl(['create', 'namespace', NS]);
  // The sidecar may read exactly its own ConfigMaps and list/watch EndpointSlices, nothing else.
  cluster.apply([
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { name: 'reranker-sidecar', namespace: NS },
      rules: [
        {
          apiGroups: [''],
          resources: ['configmaps'],
          resourceNames: ['search-reranker-config', 'keyed-reranker-config'],
          verbs: ['get', 'list', 'watch'],
        },
        { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['list', 'watch'] },
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
  for (const [i, format] of [
    [0, 'tei'],
    [1, 'tei'],
    [2, 'tei'],
    [3, 'native'],
  ] as const)
    fakes.push(await startFakeReranker({ host: ips[i], port: 8080, format, name: `backend-${i + 1}` }));
  fakes.push(await startFakeReranker({ host: ips[11], port: 8080, name: 'local' }));
  operatorPort = await freePort();
  operator = startOperator('operator-a', operatorPort);
  operatorStartedAt = Date.now();
});

after(async () => {
  await stopAll();
  await Promise.all(fakes.map((f) => f.close()));
  await cluster?.stop();
  tearDownAddresses();
});

describe('CRD', () => {
  test('the example applies; kubectl get rrp shows the printer columns', () => {
    cluster.kubectl(['apply', '-n', 'default', '-f', 'examples/rerankerpool.yaml']); // no namespace in the file: -n decides
    const table = cluster.kubectl(['get', 'rrp', '-n', 'default']);
    assert.match(table.split('\n')[0]!, /^NAME\s+STRATEGY\s+BACKENDS\s+READY\s+SYNCED\s+AGE/);
    assert.match(table, /search\s+least-busy/);
  });

  test('the apiserver refuses bad pools, naming the field', () => {
    const dup = cluster.kubectlFails(['apply', '-f', '-'], {
      input: JSON.stringify(
        pool('dup', {
          backends: [
            { name: 'a', apiBase: 'http://a:1' },
            { name: 'a', apiBase: 'http://b:1' },
          ],
        }),
      ),
    });
    assert.match(dup, /spec\.backends\[1\]: Duplicate value/);
    const negative = cluster.kubectlFails(['apply', '-f', '-'], {
      input: JSON.stringify(pool('neg', { backends: [{ name: 'a', apiBase: 'http://a:1', weight: -1 }] })),
    });
    assert.match(
      negative,
      /spec\.backends\[0\]\.weight: Invalid value: -1: spec\.backends\[0\]\.weight in body should be greater than or equal to 0/,
    );
    const empty = cluster.kubectlFails(['apply', '-f', '-'], { input: JSON.stringify(pool('empty', {})) });
    assert.match(empty, /spec: Invalid value: "object": at least one entry in backends or discovery is required/);
    const url = cluster.kubectlFails(['apply', '-f', '-'], {
      input: JSON.stringify(pool('url', { backends: [{ name: 'a', apiBase: 'not a url' }] })),
    });
    assert.match(url, /spec\.backends\[0\]\.apiBase: Invalid value: "object": apiBase must be an http\(s\) URL/);
  });
});

describe('operator', () => {
  test('renders a pool, follows EndpointSlices, and sidecars load edits in under 2 s', async (t) => {
    cluster.apply({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'tei', namespace: NS },
      spec: { ports: [{ name: 'http', port: 80, targetPort: 8080 }] },
    });
    cluster.apply(
      slice('tei-1', [
        { ip: ips[0]!, pod: 'tei-a' },
        { ip: ips[1]!, pod: 'tei-b' },
      ]),
    );
    cluster.apply(
      pool('search', {
        routing: { routingStrategy: 'weighted-random', healthCheckInterval: '0s', numRetries: 2 },
        backends: [{ name: 'static-native', apiBase: `http://${ips[3]}:8080` }],
        discovery: [{ service: 'tei', portName: 'http', apiFormat: 'tei' }],
        sidecarSelector: { matchLabels: { app: 'search-api' } },
      }),
    );
    const ready = await eventually(
      () => {
        const p = cluster.getJson(['rrp', 'search', '-n', NS]);
        return (
          condition(p, 'ConfigRendered')?.status === 'True' && condition(p, 'BackendsAvailable')?.status === 'True' && p
        );
      },
      15_000,
      'the pool to be rendered',
    );
    assert.deepEqual(ready.status.backends, { static: 1, discovered: 2, ready: 3 });
    const cm = cluster.getJson(['configmap', 'search-reranker-config', '-n', NS]);
    // discoveryMode sidecar: the ConfigMap holds the template; each sidecar merges the endpoints.
    assert.match(cm.data['reranker_config.yaml'], /discovery:\n {2}- service: tei\n/);
    assert.doesNotMatch(cm.data['reranker_config.yaml'], /tei-a/);
    assert.equal(cm.metadata.ownerReferences[0].kind, 'RerankerPool');

    searchSidecars = [
      startSidecar('sidecar-1', ips[6]!, 'search-reranker-config'),
      startSidecar('sidecar-2', ips[7]!, 'search-reranker-config'),
    ];
    const sidecars = searchSidecars;
    sidecarPod('search-api-1', ips[6]!, 'search-api');
    sidecarPod('search-api-2', ips[7]!, 'search-api');
    const synced = await eventually(
      () => {
        const p = cluster.getJson(['rrp', 'search', '-n', NS]);
        // Both pods: the operator may have seen (and synced) the first one alone.
        return (
          condition(p, 'SidecarsSynced')?.status === 'True' &&
          condition(p, 'Ready')?.status === 'True' &&
          p.status.sidecars?.total === 2 &&
          p.status.sidecars.endpointsSynced === 2 &&
          p
        );
      },
      15_000,
      'sidecars to sync (settings and endpoints)',
    );
    assert.deepEqual(synced.status.sidecars, { synced: 2, total: 2, summary: '2/2', endpointsSynced: 2 });
    assert.equal(condition(synced, 'EndpointsSynced')?.status, 'True');
    assert.match(cluster.kubectl(['get', 'rrp', 'search', '-n', NS]), /search\s+weighted-random\s+3\s+True\s+2\/2/);

    // Traffic through the sidecars reaches every backend.
    for (let i = 0; i < 40; i++) {
      const reply = await fetch(`http://${ips[6 + (i % 2)]}:8000/rerank`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(QUERY),
      });
      assert.equal(reply.status, 200);
    }
    for (const f of fakes.slice(0, 2).concat(fakes[3]!)) assert.ok(f.stats.requests > 0, `${f.name} got traffic`);

    const backendsOf = async (ip: string) =>
      ((await json(`http://${ip}:8000/lb/stats`)).backends as any[]).map((b) => b.name).sort();
    // A new ready endpoint joins; an un-ready one leaves; a removed one leaves.
    cluster.apply(
      slice('tei-1', [
        { ip: ips[0]!, pod: 'tei-a' },
        { ip: ips[1]!, pod: 'tei-b' },
        { ip: ips[2]!, pod: 'tei-c' },
      ]),
    );
    await eventually(async () => (await backendsOf(ips[6]!)).includes('tei/tei-c'), 5000, 'tei-c to join');
    cluster.apply(
      slice('tei-1', [
        { ip: ips[0]!, pod: 'tei-a', ready: false },
        { ip: ips[1]!, pod: 'tei-b' },
        { ip: ips[2]!, pod: 'tei-c' },
      ]),
    );
    const readyOf = async (ip: string) =>
      ((await json(`http://${ip}:8000/lb/backends`)).backends as any[])
        .filter((b) => b.endpoint !== 'not-ready')
        .map((b) => b.name);
    await eventually(async () => !(await readyOf(ips[7]!)).includes('tei/tei-a'), 5000, 'tei-a not ready');
    cluster.apply(slice('tei-1', [{ ip: ips[2]!, pod: 'tei-c' }]));
    await eventually(
      async () => JSON.stringify(await backendsOf(ips[6]!)) === JSON.stringify(['static-native', 'tei/tei-c']),
      5000,
      'only tei-c left',
    );

    // An edit of the pool reaches every sidecar in under 2 s.
    const before = cluster.getJson(['rrp', 'search', '-n', NS]).status.configHash;
    const started = Date.now();
    cluster.kubectl([
      'patch',
      'rrp',
      'search',
      '-n',
      NS,
      '--type=merge',
      '-p',
      JSON.stringify({ spec: { routing: { routingStrategy: 'round-robin' } } }),
    ]);
    await eventually(
      async () => {
        const stats = await Promise.all([ips[6]!, ips[7]!].map((ip) => json(`http://${ip}:8000/lb/stats`)));
        return stats.every((s) => s.routing_strategy === 'round-robin');
      },
      5000,
      'both sidecars to load the edit',
    );
    const elapsed = Date.now() - started;
    t.diagnostic(`pool edit reached both sidecars in ${elapsed} ms`);
    assert.ok(elapsed < 2000, `pool edit reached every sidecar in ${elapsed} ms`);
    const after = await eventually(
      () => {
        const p = cluster.getJson(['rrp', 'search', '-n', NS]);
        return p.status.configHash !== before && condition(p, 'SidecarsSynced')?.status === 'True' && p;
      },
      10_000,
      'status to report the new hash',
    );
    assert.equal((await json(`http://${ips[6]}:8000/lb/config`)).hash, after.status.configHash);
    for (const s of sidecars) assert.equal(s.child.exitCode, null);
  });

  test("an endpoint readiness flip leaves the ConfigMap alone and reaches every sidecar's /lb/backends within 1 s", async (t) => {
    const api = new KubeApi(loadKubeConnection({ KUBECONFIG: cluster.kubeconfig(ADMIN) }));
    const path = `/apis/discovery.k8s.io/v1/namespaces/${NS}/endpointslices/tei-1`;
    const endpoints = (bReady: boolean) => [
      { ip: ips[0]!, pod: 'tei-a' },
      { ip: ips[1]!, pod: 'tei-b', ready: bReady },
      { ip: ips[2]!, pod: 'tei-c' },
    ];
    cluster.apply(slice('tei-1', endpoints(true)));
    // A not-ready endpoint stays listed (tried only when nothing ready is left); its state is what flips.
    const namesOf = async (ip: string) =>
      ((await json(`http://${ip}:8000/lb/backends`)).backends as any[])
        .filter((b) => b.endpoint === 'ready')
        .map((b) => b.name);
    await eventually(
      async () => (await Promise.all([ips[6]!, ips[7]!].map(namesOf))).every((n) => n.includes('tei/tei-b')),
      5000,
      'tei-b in every sidecar',
    );
    const cmBefore = cluster.getJson(['configmap', 'search-reranker-config', '-n', NS]).metadata.resourceVersion;
    const times: number[] = [];
    for (let i = 0; i < 6; i++) {
      const ready = i % 2 === 1;
      const started = performance.now();
      await api.apply(path, slice('tei-1', endpoints(ready)), 'e2e');
      for (;;) {
        const seen = await Promise.all([ips[6]!, ips[7]!].map(namesOf));
        if (seen.every((n) => n.includes('tei/tei-b') === ready)) break;
        if (performance.now() - started > 5000) assert.fail(`flip ${i} not seen in 5 s: ${JSON.stringify(seen)}`);
        await new Promise((r) => setTimeout(r, 10));
      }
      times.push(Math.round(performance.now() - started));
    }
    t.diagnostic(`readiness flip -> both sidecars' /lb/backends: ${times.join(', ')} ms (max ${Math.max(...times)})`);
    assert.ok(Math.max(...times) < 1000, `flips took ${times.join(', ')} ms`);
    assert.equal(
      cluster.getJson(['configmap', 'search-reranker-config', '-n', NS]).metadata.resourceVersion,
      cmBefore,
      'the ConfigMap is untouched',
    );
    const p = await eventually(
      () => {
        const pool = cluster.getJson(['rrp', 'search', '-n', NS]);
        return condition(pool, 'EndpointsSynced')?.status === 'True' && pool;
      },
      10_000,
      'the status to say both sidecars merged the endpoints',
    );
    const configs = await Promise.all([ips[6]!, ips[7]!].map((ip) => json(`http://${ip}:8000/lb/config`)));
    for (const c of configs)
      assert.deepEqual([c.hash, c.endpoints.digest], [p.status.configHash, p.status.endpointsDigest]);
    assert.equal(condition(p, 'SidecarsSynced')?.status, 'True');
  });

  test('a synced sidecar that falls back to a stale config turns SidecarsSynced False, naming it; it recovers', async () => {
    const wanted = cluster.getJson(['rrp', 'search', '-n', NS]).status.configHash as string;
    await searchSidecars[1]!.stop();
    const stale = join(cluster.dir, 'stale-config.yaml');
    writeFileSync(
      stale,
      `model_list:\n  - model_name: old\n    litellm_params: { api_base: "http://${ips[3]}:8080" }\n`,
    );
    searchSidecars[1] = startSidecar('sidecar-2-stale', ips[7]!, '', {
      RERANKER_CONFIGMAP_NAME: '',
      RERANKER_CONFIG_PATH: stale,
    });
    const lagging = await eventually(
      () => {
        const c = condition(cluster.getJson(['rrp', 'search', '-n', NS]), 'SidecarsSynced');
        return c?.status === 'False' && c;
      },
      10_000,
      'SidecarsSynced to turn False',
    );
    assert.match(
      lagging.message,
      new RegExp(
        `^1/2 sidecars serve config ${wanted.slice(0, 12)}; search-api-2 (serves [0-9a-f]{12}|unreachable \\([A-Z_]+\\))`,
      ),
    );
    const stated = await eventually(
      () => {
        const c = condition(cluster.getJson(['rrp', 'search', '-n', NS]), 'SidecarsSynced');
        return c?.message.includes(`search-api-2 serves`) && c;
      },
      10_000,
      'the stale hash to be named',
    );
    assert.match(stated.message, new RegExp(`search-api-2 serves [0-9a-f]{12} \\(want ${wanted.slice(0, 12)}\\)`));
    await searchSidecars[1]!.stop();
    searchSidecars[1] = startSidecar('sidecar-2', ips[7]!, 'search-reranker-config');
    await eventually(
      () => condition(cluster.getJson(['rrp', 'search', '-n', NS]), 'SidecarsSynced')?.status === 'True',
      15_000,
      'the pool to report synced again',
    );
  });

  test('a pool that outgrows a ConfigMap keeps its last good config and says why (Ready=False, ConfigTooLarge, Warning event)', async (t) => {
    const bigSlice = (n: number, from: number) => ({
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: `big-${from}`, namespace: NS, labels: { 'kubernetes.io/service-name': 'big' } },
      addressType: 'IPv4',
      ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
      endpoints: Array.from({ length: n }, (_, i) => ({
        addresses: [`198.19.${((from + i) >> 8) & 255}.${(from + i) & 255}`],
        conditions: { ready: true },
        targetRef: { kind: 'Pod', name: `big-reranker-7d9f8b6c4d-${from + i}` },
      })),
    });
    cluster.apply({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'big', namespace: NS },
      spec: { ports: [{ name: 'http', port: 80, targetPort: 8080 }] },
    });
    cluster.apply(bigSlice(100, 0));
    cluster.apply(
      pool('big', {
        routing: { discoveryMode: 'rendered' },
        discovery: [{ service: 'big', portName: 'http', apiFormat: 'tei' }],
      }),
    );
    await eventually(
      () => condition(cluster.getJson(['rrp', 'big', '-n', NS]), 'Ready')?.status === 'True',
      15_000,
      'the 100-backend pool to be ready',
    );
    // Grow to 100 + 9 x 1,000 endpoints (a slice holds at most 1,000).
    cluster.apply(Array.from({ length: 9 }, (_, s) => bigSlice(1000, (s + 1) * 1000)));
    // The last good ConfigMap (100 backends, or an intermediate size the operator saw while the
    // slices arrived) stays, and the status names it: read both until they agree, as a status read
    // may precede the last intermediate apply.
    let lastSeen = '';
    t.after(() => t.diagnostic(`last status seen: ${lastSeen}`));
    const { failed, good } = await eventually(
      () => {
        const p = cluster.getJson(['rrp', 'big', '-n', NS]);
        lastSeen = JSON.stringify({
          ready: condition(p, 'Ready'),
          rendered: condition(p, 'ConfigRendered'),
          backends: p.status?.backends,
        });
        if (
          !(
            condition(p, 'Ready')?.status === 'False' &&
            / for 9100 backend/.test(condition(p, 'ConfigRendered')?.message)
          )
        )
          return false;
        const cm = cluster.getJson(['configmap', 'big-reranker-config', '-n', NS]);
        return p.status.configHash === cm.metadata.annotations['reranker.dev/config-hash'] && { failed: p, good: cm };
      },
      45_000,
      'Ready to turn False for all 9,100 backends, the status naming the ConfigMap in place',
    );
    assert.equal(condition(failed, 'Ready').reason, 'ConfigTooLarge');
    assert.match(
      condition(failed, 'ConfigRendered').message,
      /^the rendered config is \d+ bytes for 9100 backend\(s\) .*a ConfigMap holds at most 1048576 bytes/,
    );
    assert.ok(good.data['reranker_config.yaml'].split('model_name:').length - 1 < 9100);
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(
      cluster.getJson(['configmap', 'big-reranker-config', '-n', NS]).metadata.resourceVersion,
      good.metadata.resourceVersion,
      'the last good ConfigMap stays',
    );
    const events = await eventually(
      () => {
        const list = cluster.getJson([
          'events',
          '-n',
          NS,
          '--field-selector',
          'involvedObject.name=big,reason=ConfigTooLarge',
        ]).items;
        return list.length > 0 && list;
      },
      10_000,
      'a Warning event',
    );
    assert.equal(events[0].type, 'Warning');
    cluster.kubectl(['delete', 'rrp', 'big', '-n', NS]);
  });

  test('a deleted Service sets BackendsAvailable=False with the reason; the operator keeps running', async () => {
    cluster.kubectl(['delete', 'service', 'tei', '-n', NS]);
    const p = await eventually(
      () => {
        const p = cluster.getJson(['rrp', 'search', '-n', NS]);
        return condition(p, 'BackendsAvailable')?.status === 'False' && p;
      },
      10_000,
      'BackendsAvailable to turn False',
    );
    assert.equal(condition(p, 'BackendsAvailable').reason, 'ServiceNotFound');
    assert.match(condition(p, 'BackendsAvailable').message, /Service "tei" not found/);
    assert.equal(condition(p, 'Ready').status, 'False');
    const warned = await eventually(
      () => {
        const list = cluster.getJson([
          'events',
          '-n',
          NS,
          '--field-selector',
          'involvedObject.name=search,reason=ServiceNotFound',
        ]).items;
        return list.length > 0 && list;
      },
      10_000,
      'a ServiceNotFound Warning event',
    );
    assert.equal(warned[0].type, 'Warning');
    assert.equal((await fetch(`http://127.0.0.1:${operatorPort}/healthz`)).status, 200);
    assert.equal(operator.child.exitCode, null);
  });

  test('a backend whose key reference cannot be resolved is unavailable, with the reason in /lb/stats', async () => {
    cluster.apply(
      pool('keyed', {
        routing: { healthCheckInterval: '0s' },
        backends: [
          { name: 'needs-key', apiBase: `http://${ips[3]}:8080`, apiKeySecretRef: { name: 'vendor', key: 'token' } },
          { name: 'open', apiBase: `http://${ips[3]}:8080/` + '' },
        ],
      }),
    );
    const sidecar = startSidecar('sidecar-keyed', ips[8]!, 'keyed-reranker-config');
    const stats = await eventually(
      async () => {
        const s = await json(`http://${ips[8]}:8000/lb/stats`);
        return s.total_backends === 2 && s;
      },
      10_000,
      'the keyed pool to load',
    );
    const needsKey = stats.backends.find((b: any) => b.name === 'needs-key');
    assert.equal(needsKey.available, false);
    assert.equal(needsKey.key_problem, 'api_key: environment variable RERANKER_KEY_VENDOR__TOKEN is not set');
    const cm = cluster.getJson(['configmap', 'keyed-reranker-config', '-n', NS]);
    assert.match(cm.data['reranker_config.yaml'], /api_key: os\.environ\/RERANKER_KEY_VENDOR__TOKEN/);
    await sidecar.stop();
  });

  test("status is written by server-side apply of the operator's part: another manager's condition survives its writes", async () => {
    cluster.apply(pool('audited', { backends: [{ name: 'a', apiBase: `http://${ips[3]}:8080` }] }));
    await eventually(
      () => condition(cluster.getJson(['rrp', 'audited', '-n', NS]), 'Ready')?.status === 'True',
      15_000,
      'the pool to be ready',
    );
    // Another controller applies its own condition to /status, as its own field manager.
    const external = {
      type: 'ExternalCheck',
      status: 'False',
      reason: 'AuditPending',
      message: 'written by another controller',
      lastTransitionTime: '2026-01-01T00:00:00Z',
    };
    cluster.kubectl(
      ['apply', '--server-side', '--field-manager=e2e-external-checker', '--subresource=status', '-f', '-'],
      {
        input: JSON.stringify({
          apiVersion: 'reranker.dev/v1alpha1',
          kind: 'RerankerPool',
          metadata: { name: 'audited', namespace: NS },
          status: { conditions: [external] },
        }),
      },
    );
    const before = cluster.getJson(['rrp', 'audited', '-n', NS]);
    assert.deepEqual(condition(before, 'ExternalCheck'), external);
    assert.equal(condition(before, 'Ready').status, 'True', 'the foreign apply took none of ours');
    // As operators before server-side apply did: a merge patch of a field of ours (its manager
    // co-owns it, so our apply alone would leave it when we stop setting it).
    cluster.kubectl([
      'patch',
      'rrp',
      'audited',
      '-n',
      NS,
      '--subresource=status',
      '--type=merge',
      '-p',
      JSON.stringify({ status: { inconsistentBackends: ['a'] } }),
    ]);

    cluster.kubectl([
      'patch',
      'rrp',
      'audited',
      '-n',
      NS,
      '--type=merge',
      '-p',
      JSON.stringify({ spec: { routing: { numRetries: 3 } } }),
    ]);
    const generation = before.metadata.generation + 1;
    const after = await eventually(
      () => {
        const p = cluster.getJson(['rrp', 'audited', '-n', NS, '--show-managed-fields']);
        return (
          p.status.observedGeneration === generation &&
          p.status.configHash !== before.status.configHash &&
          p.status.inconsistentBackends === undefined &&
          p
        );
      },
      15_000,
      'the operator to write the status of the new generation, without the stray field',
    );
    for (const type of ['Ready', 'ConfigRendered', 'BackendsAvailable', 'SidecarsSynced', 'ModelConsistent'])
      assert.equal(condition(after, type)?.observedGeneration, generation, `${type} updated`);
    assert.match(
      condition(after, 'ConfigRendered').message,
      new RegExp(`config ${after.status.configHash.slice(0, 12)}`),
    );
    assert.deepEqual(condition(after, 'ExternalCheck'), external, 'the foreign condition survived');
    const removed = await eventually(
      () => operator.lines().find((l) => l.msg === 'status fields another manager co-owns removed'),
      5000,
      'the removal to be logged',
    );
    assert.deepEqual(
      [removed.pool, removed.fields],
      [`${NS}/audited`, ['inconsistentBackends']],
      "removed by the operator's merge patch",
    );
    const statusWriters = (after.metadata.managedFields as any[])
      .filter((m) => m.subresource === 'status')
      .map((m) => `${m.manager} ${m.operation}`)
      .sort();
    assert.deepEqual(statusWriters, ['e2e-external-checker Apply', 'reranker-lb-operator Apply']);
    cluster.kubectl(['delete', 'rrp', 'audited', '-n', NS]);
  });

  test("/metrics counts the operator's API requests by verb, resource and code, and its work queue", async () => {
    const metrics = await (await fetch(`http://127.0.0.1:${operatorPort}/metrics`)).text();
    const requests = (verb: string, resource: string) =>
      [
        ...metrics.matchAll(
          new RegExp(
            `^reranker_operator_api_requests_total\\{verb="${verb}",resource="${resource}",code="(\\d+)"\\} (\\d+)`,
            'gm',
          ),
        ),
      ]
        .filter((m) => m[1]!.startsWith('2'))
        .reduce((n, m) => n + Number(m[2]), 0);
    for (const [verb, resource] of [
      ['apply', 'configmaps'],
      ['apply', 'rerankerpools'],
      ['list', 'rerankerpools'],
      ['watch', 'rerankerpools'],
      ['create', 'leases'],
    ] as const) {
      assert.ok(requests(verb, resource) > 0, `successful ${verb} ${resource} requests counted`);
    }
    const timed = Number(
      /^reranker_operator_api_request_duration_seconds_count\{verb="apply",resource="configmaps"\} (\d+)/m.exec(
        metrics,
      )?.[1] ?? 0,
    );
    assert.ok(timed > 0, 'configmap applies are timed');
    assert.doesNotMatch(
      metrics,
      /^reranker_operator_api_request_duration_seconds_count\{verb="watch"/m,
      'watch streams are not timed',
    );
    const waited = Number(/^reranker_operator_queue_latency_seconds_count (\d+)/m.exec(metrics)?.[1] ?? 0);
    assert.ok(waited > 0, 'queue latency observed');
    assert.match(metrics, /^reranker_operator_queue_retries_total \d+/m);
  });

  test("quiet watches are never restarted: no client-side timeout shorter than the server's bookmarks", async (t) => {
    // @kubernetes/client-node 2.0.1's Watch aborted any watch silent for 30 s, so every quiet
    // resource was re-listed every 30 s. The apiserver's first bookmark on a quiet watch came
    // after 120 s, so give every watch 130 s, then count.
    const waitMs = operatorStartedAt + 130_000 - Date.now();
    t.diagnostic(
      `operator up for ${Math.round((Date.now() - operatorStartedAt) / 1000)} s; waiting ${Math.max(0, Math.round(waitMs / 1000))} s more`,
    );
    if (waitMs > 0) await new Promise((r) => setTimeout(r, waitMs));
    const metrics = await (await fetch(`http://127.0.0.1:${operatorPort}/metrics`)).text();
    const restarts = [...metrics.matchAll(/^reranker_operator_watch_restarts_total\{resource="([a-z]+)"\} (\d+)/gm)]
      .filter((m) => m[2] !== '0')
      .map((m) => `${m[1]}=${m[2]}`);
    assert.deepEqual(restarts, [], 'no watch restarts');
    assert.deepEqual(
      operator
        .lines()
        .filter((l) => l.msg === 'watch restarting')
        .map((l) => l.reason),
      [],
    );
  });

  test('an apiserver restart (every watch dropped) is recovered from without restarting the operator', async () => {
    const pid = operator.child.pid;
    await cluster.restartApiserver(1500);
    cluster.kubectl([
      'patch',
      'rrp',
      'search',
      '-n',
      NS,
      '--type=merge',
      '-p',
      JSON.stringify({ spec: { routing: { numRetries: 4 } } }),
    ]);
    await eventually(
      async () => {
        const cm = cluster.getJson(['configmap', 'search-reranker-config', '-n', NS]);
        return /num_retries: 4/.test(cm.data['reranker_config.yaml']);
      },
      30_000,
      'the operator to re-render after the restart',
    );
    await eventually(
      async () =>
        (await json(`http://${ips[6]}:8000/lb/config`)).hash ===
        cluster.getJson(['rrp', 'search', '-n', NS]).status.configHash,
      30_000,
      'the sidecar watch to recover',
    );
    assert.equal(operator.child.pid, pid);
    assert.equal(operator.child.exitCode, null);
    const metrics = await (await fetch(`http://127.0.0.1:${operatorPort}/metrics`)).text();
    const restarts = [
      ...metrics.matchAll(/^reranker_operator_watch_restarts_total\{resource="[a-z]+"\} (\d+)/gm),
    ].reduce((n, m) => n + Number(m[1]), 0);
    assert.ok(restarts > 0, 'watch restarts are counted');
  });

  test('two replicas never both act: the standby takes over only when the leader is gone', async () => {
    const standbyPort = await freePort();
    const standby = startOperator('operator-b', standbyPort);
    await eventually(
      async () => (await fetch(`http://127.0.0.1:${standbyPort}/readyz`)).status === 200,
      15_000,
      'the standby to sync',
    );
    cluster.kubectl([
      'patch',
      'rrp',
      'search',
      '-n',
      NS,
      '--type=merge',
      '-p',
      JSON.stringify({ spec: { routing: { numRetries: 5 } } }),
    ]);
    await eventually(
      () =>
        /num_retries: 5/.test(
          cluster.getJson(['configmap', 'search-reranker-config', '-n', NS]).data['reranker_config.yaml'],
        ),
      10_000,
      'the leader to render',
    );
    assert.equal(
      standby.lines().filter((l) => l.msg === 'became leader' || l.msg === 'config rendered').length,
      0,
      'the standby did nothing',
    );
    const lease = cluster.getJson(['lease', 'reranker-lb-operator', '-n', NS]);
    assert.match(lease.spec.holderIdentity, /^operator-a_/);

    await operator.stop('SIGTERM'); // releases the lease
    const stoppedAt = Date.now();
    await eventually(() => standby.lines().some((l) => l.msg === 'became leader'), 15_000, 'the standby to lead');
    assert.ok(Date.now() - stoppedAt < 10_000);
    cluster.kubectl([
      'patch',
      'rrp',
      'search',
      '-n',
      NS,
      '--type=merge',
      '-p',
      JSON.stringify({ spec: { routing: { numRetries: 1 } } }),
    ]);
    await eventually(
      () =>
        /num_retries: 1/.test(
          cluster.getJson(['configmap', 'search-reranker-config', '-n', NS]).data['reranker_config.yaml'],
        ),
      10_000,
      'the new leader to render',
    );
    await eventually(
      () => standby.lines().some((l) => l.msg === 'config rendered'),
      5000,
      'the new leader to log its render',
    );
    operator = standby;
    operatorPort = standbyPort;
  });
});
