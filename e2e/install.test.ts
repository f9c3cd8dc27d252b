/**
 * What a platform engineer does, against a real control plane with kube-controller-manager:
 * lint and render the chart, dry-run every manifest on the apiserver, helm install, check RBAC
 * with `kubectl auth can-i`, run the operator as the chart's service account, route traffic
 * through two sidecars while a Service scales 3 -> 1 -> 4, break a backend, delete the pool,
 * scrape everything with a real Prometheus, and helm uninstall (the CRD stays).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadAll } from 'js-yaml';
import { startFakeReranker, type FakeReranker } from '../test/fake-reranker/fake-reranker.ts';
import { freePort } from '../test/support/ports.ts';
import { Cluster, ROOT, serviceAccountUser } from './support/cluster.ts';
import { helm as runHelm } from './support/helm.ts';
import { setUpAddresses, tearDownAddresses } from './support/net.ts';
import { eventually, startProcess, stopAll, type Proc } from './support/processes.ts';

const SYSTEM = 'rrlb-system';
const APP = 'rrlb-app';
const RELEASE = 'rrlb';
const OPERATOR_SA = serviceAccountUser(SYSTEM, `${RELEASE}-reranker-lb-operator`);
const SIDECAR_SA = serviceAccountUser(APP, 'search-api');
const CHART = join(ROOT, 'charts/reranker-lb');
const QUERY = { query: 'capital of France', documents: ['Paris is the capital of France.', 'Berlin is in Germany.'] };

let cluster: Cluster;
let ips: string[];
const fakes: FakeReranker[] = [];
const scratch = mkdtempSync(join(tmpdir(), 'rrlb-install-'));
let prometheus: ChildProcess | undefined;

function helm(args: readonly string[]): string {
  return runHelm(cluster, scratch, args);
}

const NON_DEFAULT = {
  // The gateway lives in the release namespace, so the operator must serve it (else the chart refuses).
  operator: {
    replicas: 2,
    namespaces: [APP, 'rrlb-app2', SYSTEM],
    logLevel: 'debug',
    podAnnotations: { team: 'search' },
  },
  metrics: { serviceMonitor: { enabled: true }, podMonitor: { enabled: true } },
  grafanaDashboard: { enabled: true },
  gateway: { enabled: true, pool: 'search', localBackendUrl: 'http://127.0.0.1:8080' },
};

function valuesFile(values: unknown): string {
  const path = join(scratch, `values-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(path, JSON.stringify(values));
  return path;
}

function kinds(manifests: string): string[] {
  return [...manifests.matchAll(/^kind: (\w+)$/gm)].map((m) => m[1]!);
}

async function json(url: string): Promise<any> {
  return (await fetch(url)).json();
}

function pod(
  name: string,
  labels: Record<string, string>,
  ip: string,
  ready = true,
  ports = [{ name: 'http', containerPort: 8080 }],
): void {
  cluster.apply({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: APP, labels },
    spec: { nodeName: 'e2e-node', containers: [{ name: 'c', image: 'example/x:1', ports }] },
  });
  cluster.kubectl([
    'patch',
    'pod',
    name,
    '-n',
    APP,
    '--subresource=status',
    '--type=merge',
    '-p',
    JSON.stringify({
      status: {
        phase: 'Running',
        podIP: ip,
        podIPs: [{ ip }],
        conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }],
      },
    }),
  ]);
}

before(async () => {
  ips = setUpAddresses(12);
  cluster = new Cluster([OPERATOR_SA, SIDECAR_SA]);
  await cluster.start();
  await cluster.startControllerManager();
  for (const ns of [SYSTEM, APP, 'rrlb-app2']) cluster.kubectl(['create', 'namespace', ns]);
  cluster.apply({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'e2e-node' } });
});

after(async () => {
  await stopAll();
  prometheus?.kill('SIGKILL');
  await Promise.all(fakes.map((f) => f.close()));
  await cluster?.stop();
  tearDownAddresses();
  rmSync(scratch, { recursive: true, force: true });
});

describe('helm chart', () => {
  test('helm lint --strict passes with default and non-default values', () => {
    assert.match(helm(['lint', '--strict', CHART]), /1 chart\(s\) linted, 0 chart\(s\) failed/);
    assert.match(helm(['lint', '--strict', CHART, '-n', SYSTEM, '-f', valuesFile(NON_DEFAULT)]), /0 chart\(s\) failed/);
  });

  test('values.schema.json refuses unknown keys and a gateway without a pool', () => {
    assert.throws(
      () => helm(['template', RELEASE, CHART, '--set', 'operator.replica=2']),
      /additional properties 'replica' not allowed|replica/,
    );
    assert.throws(() => helm(['template', RELEASE, CHART, '--set', 'gateway.enabled=true']), /pool/);
    // A gateway in a namespace the operator does not serve would never get its ConfigMap: refused, naming the fix.
    assert.throws(
      () =>
        helm([
          'template',
          RELEASE,
          CHART,
          '-n',
          SYSTEM,
          '--set',
          `operator.namespaces={${APP}}`,
          '--set',
          'gateway.enabled=true',
          '--set',
          'gateway.pool=search',
        ]),
      /Add "rrlb-system" to operator.namespaces|operator serves only/,
    );
  });

  test('every rendered manifest is accepted by the apiserver (server dry-run), default and non-default', () => {
    const defaults = helm(['template', RELEASE, CHART, '-n', SYSTEM]);
    assert.deepEqual(
      kinds(defaults).sort(),
      [
        'CustomResourceDefinition',
        'Deployment',
        'Role',
        'Role',
        'RoleBinding',
        'RoleBinding',
        'Service',
        'ServiceAccount',
      ]
        .concat(
          // Sidecar injection: the webhook, its Service, the certificate Secret's Role, and the
          // only ClusterRole: get/patch on the chart's own MutatingWebhookConfiguration, by name.
          ['ClusterRole', 'ClusterRoleBinding', 'MutatingWebhookConfiguration', 'Role', 'RoleBinding', 'Service'],
        )
        .sort(),
      "no ClusterRole by default beyond the webhook configuration's",
    );
    cluster.kubectl(['apply', '--dry-run=server', '-f', '-'], { input: defaults });
    const custom = helm(['template', RELEASE, CHART, '-n', SYSTEM, '-f', valuesFile(NON_DEFAULT)]);
    assert.ok(!kinds(custom).includes('ServiceMonitor'), 'no ServiceMonitor without the monitoring.coreos.com/v1 API');
    for (const k of ['PodDisruptionBudget', 'ConfigMap', 'Deployment']) assert.ok(kinds(custom).includes(k), k);
    cluster.kubectl(['apply', '--dry-run=server', '-f', '-'], { input: custom });
    const withApi = helm([
      'template',
      RELEASE,
      CHART,
      '-n',
      SYSTEM,
      '-f',
      valuesFile(NON_DEFAULT),
      '--api-versions',
      'monitoring.coreos.com/v1',
    ]);
    assert.ok(kinds(withApi).includes('ServiceMonitor') && kinds(withApi).includes('PodMonitor'));
    cluster.kubectl(['apply', '--dry-run=server', '-f', join(ROOT, 'examples/sidecar-deployment.yaml')]);
    const allNs = helm(['template', RELEASE, CHART, '-n', SYSTEM, '--set', 'operator.allNamespaces=true']);
    assert.ok(kinds(allNs).includes('ClusterRole'));
    cluster.kubectl(['apply', '--dry-run=server', '-f', '-'], { input: allNs });
  });

  test('the rendered workloads run as non-root with a read-only root filesystem', () => {
    const docs = loadAll(helm(['template', RELEASE, CHART, '-n', SYSTEM, '-f', valuesFile(NON_DEFAULT)])) as any[];
    const items = docs.filter((d) => d?.kind === 'Deployment');
    assert.equal(items.length, 2);
    for (const d of items) {
      const spec = d.spec.template.spec;
      assert.equal(spec.securityContext.runAsNonRoot, true);
      assert.equal(spec.securityContext.seccompProfile.type, 'RuntimeDefault');
      for (const c of spec.containers) {
        assert.deepEqual(
          [
            c.securityContext.readOnlyRootFilesystem,
            c.securityContext.allowPrivilegeEscalation,
            c.securityContext.capabilities.drop,
          ],
          [true, false, ['ALL']],
        );
      }
    }
  });

  test('the operator sizes its V8 heap from its container memory limit', () => {
    const docs = loadAll(helm(['template', RELEASE, CHART, '-n', SYSTEM])) as any[];
    const operator = docs.find((d) => d?.kind === 'Deployment' && d.metadata.name.endsWith('-operator')).spec.template
      .spec.containers[0];
    assert.ok(operator.resources.limits.memory, 'a memory limit is set');
    assert.deepEqual(
      operator.env.find((e: any) => e.name === 'NODE_OPTIONS'),
      { name: 'NODE_OPTIONS', value: '--max-old-space-size-percentage=50 --max-semi-space-size=8' },
    );
  });

  test('helm install succeeds; the RBAC is least privilege (kubectl auth can-i)', () => {
    helm([
      'install',
      RELEASE,
      CHART,
      '-n',
      SYSTEM,
      '--set',
      `operator.namespaces={${APP},${SYSTEM}}`,
      '--set',
      'gateway.enabled=true',
      '--set',
      'gateway.pool=search',
    ]);
    cluster.kubectl(['wait', '--for=condition=Established', 'crd/rerankerpools.reranker.dev', '--timeout=30s']);
    const can = (verb: string, resource: string, ns: string | undefined, as: string) => {
      const [target, subresource] = resource.endsWith('/status')
        ? [resource.slice(0, -'/status'.length), 'status']
        : [resource, undefined];
      const args = [
        'auth',
        'can-i',
        verb,
        target,
        `--as=${as}`,
        ...(subresource === undefined ? [] : [`--subresource=${subresource}`]),
        ...(ns === undefined ? ['--all-namespaces'] : ['-n', ns]),
      ];
      try {
        return cluster.kubectl(args).trim() === 'yes';
      } catch {
        return false;
      }
    };
    const op = OPERATOR_SA.name;
    const allowed: [string, string, string | undefined][] = [
      ['watch', 'rerankerpools.reranker.dev', APP],
      ['patch', 'rerankerpools.reranker.dev/status', APP],
      ['create', 'configmaps', APP],
      ['patch', 'configmaps', APP],
      ['list', 'endpointslices.discovery.k8s.io', APP],
      ['watch', 'pods', APP],
      ['create', 'events', APP],
      ['update', 'leases.coordination.k8s.io/reranker-lb-operator', SYSTEM],
    ];
    for (const [verb, resource, ns] of allowed)
      assert.ok(can(verb, resource, ns, op), `operator can ${verb} ${resource} in ${ns}`);
    const denied: [string, string, string | undefined][] = [
      ['get', 'secrets', APP],
      ['list', 'secrets', SYSTEM],
      ['list', 'secrets', undefined],
      ['create', 'configmaps', 'kube-system'],
      ['create', 'configmaps', undefined],
      ['delete', 'rerankerpools.reranker.dev', APP],
      ['update', 'rerankerpools.reranker.dev', APP],
      ['delete', 'configmaps', APP],
      ['update', 'leases.coordination.k8s.io/other-lease', SYSTEM],
      ['create', 'pods', APP],
      ['create', 'clusterrolebindings', undefined],
    ];
    for (const [verb, resource, ns] of denied)
      assert.ok(!can(verb, resource, ns, op), `operator must not ${verb} ${resource} in ${ns ?? 'any namespace'}`);
    const gateway = `system:serviceaccount:${SYSTEM}:${RELEASE}-reranker-lb-gateway`;
    assert.ok(can('watch', 'configmaps/search-reranker-config', SYSTEM, gateway));
    assert.ok(!can('get', 'configmaps/other', SYSTEM, gateway));
    assert.ok(!can('list', 'secrets', SYSTEM, gateway));
  });
});

describe('the full path', () => {
  let operator: Proc;
  let operatorPort: number;
  const sidecars: Proc[] = [];

  test('operator (as the chart service account) + two sidecars route to a static and a discovered backend; scaling 3 -> 1 -> 4 is followed within 2 s', async (t) => {
    for (let i = 0; i < 5; i++)
      fakes.push(
        await startFakeReranker({
          host: ips[i],
          port: 8080,
          format: i < 4 ? 'tei' : 'native',
          name: `backend-${i + 1}`,
        }),
      );
    fakes.push(await startFakeReranker({ host: ips[11], port: 8080, name: 'local' }));
    operatorPort = await freePort();
    operator = startProcess('operator', 'operator/main.ts', {
      KUBECONFIG: cluster.kubeconfig(OPERATOR_SA),
      POD_NAMESPACE: SYSTEM,
      POD_NAME: 'operator-0',
      WATCH_NAMESPACES: APP,
      OPERATOR_PORT: String(operatorPort),
      OPERATOR_HOST: '127.0.0.1',
    });
    // The sidecar's RBAC, as in examples/sidecar-deployment.yaml.
    cluster.apply([
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'Role',
        metadata: { name: 'search-api-reranker-lb', namespace: APP },
        rules: [
          {
            apiGroups: [''],
            resources: ['configmaps'],
            resourceNames: ['search-reranker-config'],
            verbs: ['get', 'list', 'watch'],
          },
          { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['list', 'watch'] },
        ],
      },
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'RoleBinding',
        metadata: { name: 'search-api-reranker-lb', namespace: APP },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'search-api-reranker-lb' },
        subjects: [{ kind: 'ServiceAccount', name: 'search-api', namespace: APP }],
      },
    ]);
    // A Service with a selector; kube-controller-manager writes its EndpointSlices from the pods.
    cluster.apply({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'tei', namespace: APP },
      spec: { selector: { app: 'tei' }, ports: [{ name: 'http', port: 80, targetPort: 'http' }] },
    });
    for (let i = 0; i < 3; i++) pod(`tei-${i + 1}`, { app: 'tei' }, ips[i]!);
    cluster.apply({
      apiVersion: 'reranker.dev/v1alpha1',
      kind: 'RerankerPool',
      metadata: { name: 'search', namespace: APP },
      spec: {
        routing: {
          routingStrategy: 'round-robin',
          healthCheckInterval: '0s',
          numRetries: 2,
          allowedFails: 0,
          cooldownTime: '30s',
          fallbackToLocal: false,
        },
        backends: [{ name: 'static', apiBase: `http://${ips[4]}:8080` }],
        discovery: [{ service: 'tei', portName: 'http', apiFormat: 'tei' }],
        sidecarSelector: { matchLabels: { app: 'search-api' } },
      },
    });
    for (const [i, ip] of [ips[6]!, ips[7]!].entries()) {
      sidecars.push(
        startProcess(`sidecar-${i + 1}`, 'sidecar/main.ts', {
          RERANKER_LOAD_BALANCER_ENABLED: 'true',
          RERANKER_CONFIGMAP_NAME: 'search-reranker-config',
          RERANKER_CONFIGMAP_NAMESPACE: APP,
          KUBECONFIG: cluster.kubeconfig(SIDECAR_SA),
          RERANKER_LB_HOST: ip,
          RERANKER_LB_PORT: '8000',
          RERANKER_LOCAL_BACKEND_URL: `http://${ips[11]}:8080`,
          RERANKER_SHUTDOWN_DELAY_SECONDS: '0',
        }),
      );
      pod(`search-api-${i + 1}`, { app: 'search-api', 'reranker.dev/sidecar': 'true' }, ip, true, [
        { name: 'reranker-lb', containerPort: 8000 },
      ]);
    }
    const names = async (ip: string) =>
      ((await json(`http://${ip}:8000/lb/stats`)).backends as any[]).map((b) => b.name).sort();
    const expect = (...pods: string[]) => JSON.stringify(['static', ...pods.map((p) => `tei/${p}`)].sort());
    await eventually(
      async () => (await names(ips[6]!)).length === 4 && (await names(ips[7]!)).length === 4,
      20_000,
      'both sidecars to serve 4 backends',
    );
    const synced = await eventually(
      () => {
        const p = cluster.getJson(['rrp', 'search', '-n', APP]);
        return (
          p.status?.conditions?.find((c: any) => c.type === 'Ready')?.status === 'True' &&
          p.status.sidecars?.synced === 2 &&
          p
        );
      },
      15_000,
      'the pool to be Ready with 2/2 sidecars',
    );
    assert.deepEqual(synced.status.backends, { static: 1, discovered: 3, ready: 4 });

    // Traffic through both sidecars reaches every backend.
    const serving = [fakes[0]!, fakes[1]!, fakes[2]!, fakes[4]!]; // tei-1..3 and the static backend
    const before = serving.map((f) => f.stats.requests);
    for (let i = 0; i < 40; i++)
      assert.equal(
        (
          await fetch(`http://${ips[6 + (i % 2)]}:8000/v1/rerank`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify(QUERY),
          })
        ).status,
        200,
      );
    for (const [i, f] of serving.entries()) assert.ok(f.stats.requests > before[i]!, `${f.name} got traffic`);
    assert.equal(fakes[3]!.stats.requests, 0, 'no traffic to an address that is not an endpoint');

    // Timed from the moment the change is in the API (kubectl has returned).
    const followed = async (what: string, change: () => void, want: string) => {
      change();
      const started = Date.now();
      await eventually(
        async () => JSON.stringify(await names(ips[6]!)) === want && JSON.stringify(await names(ips[7]!)) === want,
        10_000,
        what,
      );
      const ms = Date.now() - started;
      t.diagnostic(`${what}: followed by both sidecars in ${ms} ms`);
      assert.ok(ms < 2000, `${what} took ${ms} ms`);
    };
    await followed(
      'scale 3 -> 1',
      () =>
        cluster.kubectl(['delete', 'pod', 'tei-2', 'tei-3', '-n', APP, '--grace-period=0', '--force', '--wait=false']),
      expect('tei-1'),
    );
    await followed(
      'scale 1 -> 4',
      () => {
        for (let i = 1; i < 4; i++) pod(`tei-${i + 1}`, { app: 'tei' }, ips[i]!);
      },
      expect('tei-1', 'tei-2', 'tei-3', 'tei-4'),
    );

    // One backend breaks: every call still succeeds.
    fakes[1]!.set({ mode: 'status', status: 500 });
    for (let i = 0; i < 30; i++)
      assert.equal(
        (
          await fetch(`http://${ips[6 + (i % 2)]}:8000/rerank`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify(QUERY),
          })
        ).status,
        200,
      );
    fakes[1]!.set({ mode: 'ok' });
  });

  test('a real Prometheus scrapes a sidecar and the operator; its request counter matches the calls made', async () => {
    const port = await freePort();
    const dir = join(scratch, 'prometheus');
    writeFileSync(
      join(scratch, 'prometheus.yml'),
      JSON.stringify({
        global: { scrape_interval: '1s', scrape_timeout: '1s' },
        scrape_configs: [
          { job_name: 'reranker-lb-sidecar', static_configs: [{ targets: [`${ips[7]}:8000`] }] },
          { job_name: 'reranker-lb-operator', static_configs: [{ targets: [`127.0.0.1:${operatorPort}`] }] },
        ],
      }),
    );
    prometheus = spawn(
      'prometheus',
      [
        `--config.file=${join(scratch, 'prometheus.yml')}`,
        `--storage.tsdb.path=${dir}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--log.level=error',
      ],
      { stdio: 'ignore' },
    );
    const query = async (q: string) =>
      (await json(`http://127.0.0.1:${port}/api/v1/query?query=${encodeURIComponent(q)}`)).data?.result ?? [];
    const counted = async () =>
      Number(
        (await query('sum(reranker_lb_requests_total{job="reranker-lb-sidecar",format="jina"})'))[0]?.value?.[1] ?? 0,
      );
    await eventually(
      async () =>
        (await query('up{job="reranker-lb-sidecar"} == 1')).length === 1 &&
        (await query('up{job="reranker-lb-operator"} == 1')).length === 1,
      30_000,
      'prometheus to scrape both targets',
    );
    const start = await counted();
    const calls = 17;
    for (let i = 0; i < calls; i++) {
      const res = await fetch(`http://${ips[7]}:8000/api/v1/rerank`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(QUERY),
      });
      assert.equal(res.status, 200);
    }
    await eventually(
      async () => (await counted()) === start + calls,
      20_000,
      `prometheus to count ${calls} more calls`,
    );
    assert.ok(
      (await query('reranker_operator_reconciles_total{result="success"}')).length > 0,
      'operator metrics scraped',
    );
  });

  test('deleting the pool garbage-collects its ConfigMap; the sidecars keep serving their last good config', async () => {
    const hash = (await json(`http://${ips[6]}:8000/lb/config`)).hash;
    cluster.kubectl(['delete', 'rrp', 'search', '-n', APP]);
    await eventually(
      () => {
        try {
          cluster.kubectl(['get', 'configmap', 'search-reranker-config', '-n', APP]);
          return false;
        } catch {
          return true;
        }
      },
      90_000,
      'the garbage collector to remove the ConfigMap',
    ); // it discovers new CRD types on its 30 s resync
    await eventually(
      () =>
        sidecars.every((s) =>
          s.lines().some((l) => l.msg === 'config ConfigMap deleted; the last good config keeps serving'),
        ),
      5000,
      'the sidecars to notice',
    );
    assert.equal(operator.child.exitCode, null, 'the operator kept running through the deletion');
    for (const ip of [ips[6]!, ips[7]!]) {
      assert.equal((await json(`http://${ip}:8000/lb/config`)).hash, hash);
      assert.equal(
        (
          await fetch(`http://${ip}:8000/rerank`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify(QUERY),
          })
        ).status,
        200,
      );
    }
  });

  test('helm uninstall removes the release and leaves the CRD (keep policy)', () => {
    helm(['uninstall', RELEASE, '-n', SYSTEM]);
    assert.throws(() => cluster.kubectl(['get', 'deployment', `${RELEASE}-reranker-lb-operator`, '-n', SYSTEM]));
    assert.match(cluster.kubectl(['get', 'crd', 'rerankerpools.reranker.dev']), /rerankerpools\.reranker\.dev/);
  });
});
