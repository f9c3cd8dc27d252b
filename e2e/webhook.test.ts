/**
 * Sidecar injection against a real kube-apiserver + kube-controller-manager (no kubelet: pods are
 * only stored). The chart is installed with injection.url pointing at the operator, which runs on
 * this host as the chart's service account with the chart's own environment; the API server
 * calls its webhook over TLS with the CA the operator created. One label turns a plain
 * Deployment into a load-balanced one: sidecar, RBAC, status.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadAll } from 'js-yaml';
import { freePort } from '../test/support/ports.ts';
import { ADMIN, Cluster, ROOT, serviceAccountUser } from './support/cluster.ts';
import { helm as runHelm } from './support/helm.ts';
import { setUpAddresses, tearDownAddresses } from './support/net.ts';
import { eventually, startProcess, stopAll, type Proc } from './support/processes.ts';

const SYSTEM = 'rrlb-inj-system';
const APP = 'rrlb-inj-app';
const RELEASE = 'rrlb';
const CHART = join(ROOT, 'charts/reranker-lb');
const OPERATOR_SA = serviceAccountUser(SYSTEM, `${RELEASE}-reranker-lb-operator`);
const WEBHOOK_CONFIG = `${RELEASE}-reranker-lb-sidecar-injector`;
const SECRET = `${RELEASE}-reranker-lb-webhook-tls`;
const APP_SA = `system:serviceaccount:${APP}:search-api`;

let cluster: Cluster;
let ips: string[];
let webhookPort: number;
let operatorPort: number;
let operator: Proc;
let chartEnv: Record<string, string>;
const scratch = mkdtempSync(join(tmpdir(), 'rrlb-webhook-'));

function helm(args: readonly string[]): string {
  return runHelm(cluster, scratch, args);
}

/** kubectl as admin, keeping stderr: the API server's admission warnings are printed there. */
function kubectlWarnings(args: readonly string[], input: unknown): { stdout: string; warnings: string } {
  const r = spawnSync(join(cluster.tools, 'kubectl'), ['--kubeconfig', cluster.kubeconfig(ADMIN), ...args], {
    encoding: 'utf8',
    input: JSON.stringify(input),
  });
  if (r.status !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr}`);
  return { stdout: r.stdout, warnings: r.stderr };
}

function startOperator(name: string, extraEnv: Record<string, string> = {}): Proc {
  return startProcess(name, 'operator/main.ts', {
    ...chartEnv,
    KUBECONFIG: cluster.kubeconfig(OPERATOR_SA),
    POD_NAMESPACE: SYSTEM,
    POD_NAME: name,
    OPERATOR_PORT: String(operatorPort),
    OPERATOR_HOST: '127.0.0.1',
    WEBHOOK_HOST: ips[0]!,
    ...extraEnv,
  });
}

/** reranker_operator_webhook_requests_total, all outcomes. */
async function webhookCalls(): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${operatorPort}/metrics`)).text();
  return [...text.matchAll(/^reranker_operator_webhook_requests_total\{[^}]*\} (\d+)/gm)].reduce(
    (n, m) => n + Number(m[1]),
    0,
  );
}

function pod(
  name: string,
  labels: Record<string, string>,
  over: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: APP, labels },
    spec: { serviceAccountName: 'search-api', containers: [{ name: 'app', image: 'example/search-api:1' }], ...over },
  };
}

function caBundle(): string | undefined {
  return cluster.getJson(['mutatingwebhookconfiguration', WEBHOOK_CONFIG]).webhooks[0].clientConfig.caBundle;
}

function secretData(): Record<string, string> | undefined {
  try {
    return cluster.getJson(['secret', SECRET, '-n', SYSTEM]).data;
  } catch {
    return undefined;
  }
}

function can(verb: string, resource: string, as = APP_SA): boolean {
  try {
    return cluster.kubectl(['auth', 'can-i', verb, resource, '-n', APP, `--as=${as}`]).trim() === 'yes';
  } catch {
    return false;
  }
}

before(async () => {
  ips = setUpAddresses(1);
  cluster = new Cluster([OPERATOR_SA]);
  await cluster.start();
  await cluster.startControllerManager('deployment,replicaset,garbagecollector,namespace,serviceaccount');
  for (const ns of [SYSTEM, APP]) cluster.kubectl(['create', 'namespace', ns]);
  webhookPort = await freePort();
  operatorPort = await freePort();
  const url = `https://${ips[0]}:${webhookPort}/mutate-pods`;
  // The chart as a user installs it, in URL mode because the operator runs on this host.
  helm([
    'install',
    RELEASE,
    CHART,
    '-n',
    SYSTEM,
    '--set',
    `operator.namespaces={${APP}}`,
    '--set',
    `injection.url=${url}`,
    '--set',
    `injection.port=${webhookPort}`,
    '--set',
    'injection.certCheckSeconds=1',
    '--set',
    'injection.sidecar.image.tag=0.2.0',
  ]);
  cluster.kubectl(['wait', '--for=condition=Established', 'crd/rerankerpools.reranker.dev', '--timeout=30s']);
  // The operator's environment is the chart's Deployment's, literal values only (downward-API ones are set below).
  const docs = loadAll(helm(['get', 'manifest', RELEASE, '-n', SYSTEM])) as any[];
  const deployment = docs.find((d) => d?.kind === 'Deployment' && d.metadata.name.endsWith('-operator'));
  chartEnv = Object.fromEntries(
    deployment.spec.template.spec.containers[0].env
      .filter((e: any) => e.value !== undefined)
      .map((e: any) => [e.name, e.value]),
  );
  cluster.apply([
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'search-api', namespace: APP } },
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'unrelated', namespace: APP }, data: { a: 'b' } },
    {
      apiVersion: 'reranker.dev/v1alpha1',
      kind: 'RerankerPool',
      metadata: { name: 'search', namespace: APP },
      spec: {
        backends: [
          {
            name: 'cohere',
            apiBase: 'https://api.cohere.com',
            apiFormat: 'cohere',
            apiKeySecretRef: { name: 'cohere', key: 'api-key' },
          },
        ],
      },
    },
  ]);
  operator = startOperator('operator-0');
});

after(async () => {
  await stopAll();
  await cluster?.stop();
  tearDownAddresses();
  rmSync(scratch, { recursive: true, force: true });
});

describe('sidecar injection', () => {
  test('the operator creates a CA and serving certificate in one Secret and sets the caBundle (and URL) on its webhook', async () => {
    const data = await eventually(() => secretData(), 20_000, 'the certificate Secret');
    assert.deepEqual(Object.keys(data).sort(), ['ca.crt', 'ca.key', 'tls.crt', 'tls.key']);
    await eventually(() => caBundle() === data['ca.crt'], 10_000, 'the caBundle to be the CA');
    const hook = cluster.getJson(['mutatingwebhookconfiguration', WEBHOOK_CONFIG]).webhooks[0];
    assert.equal(hook.clientConfig.url, `https://${ips[0]}:${webhookPort}/mutate-pods`);
    await eventually(
      () => operator.lines().some((l) => l.msg === 'injection webhook serving'),
      10_000,
      'the webhook to serve',
    );
  });

  test('one label: a plain Deployment rolls out pods stored with the sidecar, its env, probes and security context', async (t) => {
    cluster.apply({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'search-api', namespace: APP },
      spec: {
        replicas: 2,
        // No kubelet here, so no pod ever becomes available: Recreate lets the rollout finish.
        strategy: { type: 'Recreate' },
        selector: { matchLabels: { app: 'search-api' } },
        template: {
          metadata: { labels: { app: 'search-api' }, annotations: { 'reranker.dev/sidecar-memory-limit': '384Mi' } },
          spec: {
            serviceAccountName: 'search-api',
            containers: [{ name: 'app', image: 'example/search-api:1', ports: [{ containerPort: 8080 }] }],
          },
        },
      },
    });
    const plain = await eventually(
      () => {
        const items = cluster.getJson(['pods', '-n', APP, '-l', 'app=search-api']).items;
        return items.length === 2 && items;
      },
      30_000,
      'the ReplicaSet to create 2 plain pods',
    );
    assert.ok(plain.every((p: any) => p.spec.initContainers === undefined));
    // The one step: the pool label on the pod template.
    const started = Date.now();
    cluster.kubectl([
      'patch',
      'deployment',
      'search-api',
      '-n',
      APP,
      '--type=merge',
      '-p',
      JSON.stringify({ spec: { template: { metadata: { labels: { 'reranker.dev/pool': 'search' } } } } }),
    ]);
    const pods = await eventually(
      () => {
        const items = cluster.getJson(['pods', '-n', APP, '-l', 'app=search-api']).items;
        return (
          items.length === 2 && items.every((p: any) => p.metadata.labels['reranker.dev/pool'] === 'search') && items
        );
      },
      30_000,
      'the rollout to replace both pods',
    );
    t.diagnostic(`2 injected pods stored ${Date.now() - started} ms after the label was added`);
    for (const p of pods) {
      const [sidecar, ...rest] = p.spec.initContainers;
      assert.equal(rest.length, 0);
      assert.equal(sidecar.name, 'reranker-lb');
      assert.equal(sidecar.image, 'ghcr.io/reranker-lb/sidecar:0.2.0');
      assert.equal(sidecar.restartPolicy, 'Always');
      const env = Object.fromEntries(sidecar.env.map((e: any) => [e.name, e.value ?? e.valueFrom]));
      assert.equal(env.RERANKER_LOAD_BALANCER_ENABLED, 'true');
      assert.equal(env.RERANKER_CONFIGMAP_NAME, 'search-reranker-config');
      assert.deepEqual(env.POD_NAMESPACE, { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } });
      // The image's launcher sizes the heap from the memory limit; heap flags here would override it.
      assert.equal(env.NODE_OPTIONS, undefined);
      assert.deepEqual(env.RERANKER_KEY_COHERE__API_KEY, {
        secretKeyRef: { name: 'cohere', key: 'api-key', optional: true },
      });
      assert.equal(sidecar.readinessProbe.httpGet.path, '/ready');
      assert.equal(sidecar.livenessProbe.httpGet.path, '/health');
      assert.equal(sidecar.ports[0].containerPort, 8000);
      assert.deepEqual(sidecar.resources, { requests: { cpu: '100m', memory: '96Mi' }, limits: { memory: '384Mi' } });
      const sc = sidecar.securityContext;
      assert.deepEqual(
        [sc.runAsNonRoot, sc.readOnlyRootFilesystem, sc.allowPrivilegeEscalation, sc.capabilities.drop],
        [true, true, false, ['ALL']],
      );
      assert.equal(p.metadata.annotations['reranker.dev/injected-version'], '0.2.0');
      assert.equal(p.metadata.labels['reranker.dev/sidecar'], 'true');
      assert.equal(p.spec.containers.length, 1, 'the app container is untouched');
    }
  });

  test("the operator grants the pods' service account its pool's ConfigMap, list/watch on EndpointSlices, and nothing else (kubectl auth can-i)", async () => {
    await eventually(
      () => {
        try {
          return cluster
            .getJson(['rolebinding', 'search-reranker-sidecar', '-n', APP])
            .subjects?.some((s: any) => s.name === 'search-api');
        } catch {
          return false;
        }
      },
      15_000,
      'the RoleBinding to name search-api',
    );
    const binding = cluster.getJson(['rolebinding', 'search-reranker-sidecar', '-n', APP]);
    assert.equal(binding.metadata.ownerReferences[0].kind, 'RerankerPool');
    assert.ok(can('get', 'configmaps/search-reranker-config'));
    assert.ok(can('watch', 'configmaps/search-reranker-config'));
    assert.ok(can('list', 'configmaps/search-reranker-config'));
    assert.ok(
      can('watch', 'configmaps/search-reranker-config-canary'),
      'the canary plan: which sidecar runs the canary',
    );
    assert.ok(!can('update', 'configmaps/search-reranker-config-canary'));
    assert.ok(!can('get', 'configmaps/unrelated'));
    assert.ok(!can('list', 'configmaps'));
    assert.ok(!can('get', 'secrets'));
    assert.ok(!can('get', 'secrets/cohere'));
    assert.ok(!can('update', 'configmaps/search-reranker-config'));
    // discoveryMode sidecar: the sidecar follows its Services' EndpointSlices itself (read only).
    assert.ok(can('list', 'endpointslices.discovery.k8s.io'));
    assert.ok(can('watch', 'endpointslices.discovery.k8s.io'));
    assert.ok(!can('create', 'endpointslices.discovery.k8s.io'));
    assert.ok(!can('list', 'pods'));
    assert.ok(
      !can('get', 'configmaps/search-reranker-config', `system:serviceaccount:${APP}:default`),
      'no other account',
    );
  });

  test('the RoleBinding follows workloads: a new service account is added, and dropped when its last pod goes', async () => {
    const subjects = () =>
      cluster
        .getJson(['rolebinding', 'search-reranker-sidecar', '-n', APP])
        .subjects.map((s: any) => s.name)
        .sort()
        .join(',');
    cluster.apply({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'batch', namespace: APP } });
    kubectlWarnings(
      ['create', '-f', '-'],
      pod('batch-1', { 'reranker.dev/pool': 'search' }, { serviceAccountName: 'batch' }),
    );
    await eventually(() => subjects() === 'batch,search-api', 10_000, 'batch to be bound');
    assert.ok(can('watch', 'configmaps/search-reranker-config', `system:serviceaccount:${APP}:batch`));
    cluster.kubectl(['delete', 'pod', 'batch-1', '-n', APP, '--grace-period=0', '--force']);
    await eventually(() => subjects() === 'search-api', 10_000, 'batch to be unbound');
    assert.ok(!can('watch', 'configmaps/search-reranker-config', `system:serviceaccount:${APP}:batch`));
  });

  test('the pool status counts injected pods on the current version; kubectl get rrp -o wide shows it', async () => {
    const status = await eventually(
      () => {
        const s = cluster.getJson(['rrp', 'search', '-n', APP]).status?.injection;
        return s?.pods === 2 && s;
      },
      15_000,
      'status.injection',
    );
    assert.deepEqual(status, { pods: 2, current: 2, version: '0.2.0', summary: '2/2', outdated: [] });
    const wide = cluster.kubectl(['get', 'rrp', 'search', '-n', APP, '-o', 'wide']);
    assert.match(wide, /INJECTED\s+VERSION/);
    assert.match(wide, /2\/2\s+0\.2\.0/);
  });

  test('a pod without the label is untouched, and the webhook is not called for it', async () => {
    const before = await webhookCalls();
    cluster.apply(pod('plain', { app: 'plain' }));
    assert.equal(cluster.getJson(['pod', 'plain', '-n', APP]).spec.initContainers, undefined);
    kubectlWarnings(['create', '-f', '-'], pod('labelled', { 'reranker.dev/pool': 'search' }));
    assert.equal(await webhookCalls(), before + 1, 'called once: for the labelled pod only');
  });

  const skipped: { name: string; pod: Record<string, unknown>; warning: RegExp; event?: string }[] = [
    {
      name: 'opted out (reranker.dev/inject: "false")',
      pod: pod('opted-out', { 'reranker.dev/pool': 'search', 'reranker.dev/inject': 'false' }),
      warning: /not injected: reranker\.dev\/inject=false/,
    },
    {
      name: 'its pool does not exist',
      pod: pod('no-pool', { 'reranker.dev/pool': 'missing' }),
      warning: /RerankerPool "missing" not found/,
      event: 'InjectionPoolNotFound',
    },
    {
      name: 'it already has the sidecar',
      pod: pod(
        'hand-made',
        { 'reranker.dev/pool': 'search' },
        {
          initContainers: [
            { name: 'reranker-lb', image: 'ghcr.io/reranker-lb/sidecar:0.1.0', restartPolicy: 'Always' },
          ],
        },
      ),
      warning: /already has a container named reranker-lb/,
      event: 'InjectionAlreadyInjected',
    },
  ];
  for (const c of skipped) {
    test(`admitted unchanged with a warning: ${c.name}`, async () => {
      const spec = structuredClone((c.pod as any).spec);
      const { warnings } = kubectlWarnings(['create', '-f', '-'], c.pod);
      assert.match(warnings, /Warning: reranker-lb: /);
      assert.match(warnings, c.warning);
      const stored = cluster.getJson(['pod', (c.pod as any).metadata.name, '-n', APP]);
      assert.deepEqual(
        stored.spec.initContainers?.map((x: any) => x.name),
        spec.initContainers?.map((x: any) => x.name),
      );
      assert.equal(stored.metadata.annotations?.['reranker.dev/injected-version'], undefined);
      if (c.event !== undefined) {
        await eventually(
          () =>
            cluster
              .getJson(['events', '-n', APP])
              .items.some((e: any) => e.reason === c.event && e.involvedObject.name === (c.pod as any).metadata.name),
          5000,
          `Event ${c.event}`,
        );
      }
    });
  }

  test('operator restart (an upgrade to 0.3.0): the stored certificate keeps serving; old pods are listed as outdated', async () => {
    const data = secretData()!;
    await operator.stop();
    operator = startOperator('operator-1', { SIDECAR_IMAGE: 'ghcr.io/reranker-lb/sidecar:0.3.0' });
    await eventually(
      () => operator.lines().some((l) => l.msg === 'injection webhook serving'),
      20_000,
      'the webhook to serve again',
    );
    assert.ok(!operator.lines().some((l) => l.msg === 'webhook certificate issued'), 'no new certificate');
    assert.deepEqual(secretData(), data);
    kubectlWarnings(['create', '-f', '-'], pod('after-upgrade', { 'reranker.dev/pool': 'search' }));
    assert.equal(
      cluster.getJson(['pod', 'after-upgrade', '-n', APP]).metadata.annotations['reranker.dev/injected-version'],
      '0.3.0',
    );
    const status = await eventually(
      () => {
        const s = cluster.getJson(['rrp', 'search', '-n', APP]).status?.injection;
        return s?.version === '0.3.0' && s.pods === 4 && s;
      },
      15_000,
      'status.injection at 0.3.0',
    );
    assert.equal(status.summary, '1/4');
    assert.equal(status.outdated.length, 3);
    assert.ok(status.outdated.every((o: string) => o.endsWith('(0.2.0)')));
    assert.ok(status.outdated.includes('labelled (0.2.0)'));
  });

  test('a deleted Secret is re-created with a new CA and the caBundle follows; injection keeps working', async () => {
    const old = secretData()!;
    cluster.kubectl(['delete', 'secret', SECRET, '-n', SYSTEM]);
    const fresh = await eventually(
      () => {
        const d = secretData();
        return d !== undefined && d['ca.crt'] !== old['ca.crt'] && d;
      },
      15_000,
      'a new Secret',
    );
    // The old CA stays in the bundle until the operator serves from the new one (rotation.ts): about 10 s here.
    await eventually(() => caBundle() === fresh['ca.crt'], 30_000, 'the caBundle to follow');
    await eventually(
      () => {
        kubectlWarnings(
          ['create', '-f', '-'],
          pod(`after-rotation-${Date.now()}`, { 'reranker.dev/pool': 'search', rotation: 'yes' }),
        );
        return true;
      },
      10_000,
      'a pod to be admitted through the new certificate',
    );
    const injected = cluster.getJson(['pods', '-n', APP, '-l', 'rotation=yes']).items;
    assert.ok(injected.length >= 1 && injected.every((p: any) => p.spec.initContainers?.[0]?.name === 'reranker-lb'));
  });

  test("the operator's own RBAC: the certificate Secret and its webhook by name only", () => {
    const op = OPERATOR_SA.name;
    const yes = (args: string[]) => {
      try {
        return cluster.kubectl(['auth', 'can-i', ...args, `--as=${op}`]).trim() === 'yes';
      } catch {
        return false;
      }
    };
    assert.ok(yes(['update', `secrets/${SECRET}`, '-n', SYSTEM]));
    assert.ok(!yes(['get', 'secrets/other', '-n', SYSTEM]));
    assert.ok(!yes(['get', 'secrets', '-n', APP]));
    assert.ok(yes(['patch', `mutatingwebhookconfigurations/${WEBHOOK_CONFIG}`]));
    assert.ok(!yes(['patch', 'mutatingwebhookconfigurations/other']));
    assert.ok(!yes(['create', 'mutatingwebhookconfigurations']));
    assert.ok(yes(['create', 'rolebindings', '-n', APP]));
    assert.ok(!yes(['delete', 'rolebindings', '-n', APP]));
    assert.ok(!yes(['create', 'rolebindings', '-n', 'default']));
  });
});

describe('chart variants', () => {
  test("helm lint passes with the operator's CA, with cert-manager, and without injection", () => {
    for (const set of [
      [],
      ['--set', 'certManager.enabled=true'],
      [
        '--set',
        'certManager.enabled=true',
        '--set',
        'certManager.issuerRef.name=ca',
        '--set',
        'certManager.issuerRef.kind=ClusterIssuer',
      ],
      ['--set', 'injection.enabled=false'],
    ]) {
      assert.match(helm(['lint', '--strict', CHART, ...set]), /0 chart\(s\) failed/);
    }
  });

  test('cert-manager mode renders a Certificate, a self-signed Issuer and the CA-injector annotation; the operator only reads the Secret', () => {
    const docs = loadAll(
      helm(['template', RELEASE, CHART, '-n', SYSTEM, '--set', 'certManager.enabled=true']),
    ) as any[];
    const kinds = docs.filter(Boolean).map((d) => d.kind);
    assert.ok(kinds.includes('Certificate') && kinds.includes('Issuer'));
    assert.ok(
      !kinds.includes('ClusterRole'),
      'no rights on the webhook configuration: the CA injector owns the caBundle',
    );
    const hook = docs.find((d) => d?.kind === 'MutatingWebhookConfiguration');
    assert.equal(
      hook.metadata.annotations['cert-manager.io/inject-ca-from'],
      `${SYSTEM}/${RELEASE}-reranker-lb-webhook`,
    );
    assert.equal(hook.webhooks[0].clientConfig.service.name, `${RELEASE}-reranker-lb-webhook`);
    const cert = docs.find((d) => d?.kind === 'Certificate');
    assert.equal(cert.spec.secretName, SECRET);
    const env = docs.find((d) => d?.kind === 'Deployment').spec.template.spec.containers[0].env;
    assert.ok(env.some((e: any) => e.name === 'WEBHOOK_CERT_MODE' && e.value === 'cert-manager'));
    const tls = docs.find((d) => d?.kind === 'Role' && d.metadata.name.endsWith('-webhook-tls'));
    assert.deepEqual(tls.rules, [{ apiGroups: [''], resources: ['secrets'], resourceNames: [SECRET], verbs: ['get'] }]);
    // Everything but the cert-manager objects is accepted by the API server (another release, so all are new).
    cluster.kubectl(['create', 'namespace', 'rrlb-inj-cm']);
    const other = loadAll(
      helm(['template', 'cm', CHART, '-n', 'rrlb-inj-cm', '--set', 'certManager.enabled=true']),
    ) as any[];
    const rest = other.filter((d) => d && !['Certificate', 'Issuer', 'CustomResourceDefinition'].includes(d.kind));
    const path = join(scratch, 'cert-manager.json');
    writeFileSync(path, JSON.stringify({ apiVersion: 'v1', kind: 'List', items: rest }));
    cluster.kubectl(['apply', '--dry-run=server', '-f', path]);
  });
});
