/**
 * The README's Kubernetes quick start is a script: this test cuts the shell block between
 * `<!-- kubernetes-quickstart:begin -->` and `<!-- kubernetes-quickstart:end -->` out of README.md
 * and runs it verbatim (bash, set -euo pipefail, from the repo root) against a fresh real node
 * (e2e/node/up.sh, images built here and imported: no registry), with only kubectl and helm of
 * e2e/kube/tools.sh on PATH and KUBECONFIG naming the cluster — what a newcomer types. Nothing is
 * substituted: the chart's default images are the ones images/build.sh tags (package.json's
 * version is the chart's appVersion), pulled IfNotPresent.
 *
 * On the same node, the chart's gateway then serves a pool whose static backend requires an API
 * key: the key is in a Secret, the pool names it with apiKeySecretRef, the chart wires it with
 * gateway.apiKeySecrets; a call through the gateway's Service gets ranked results, the backend saw
 * the key, and the key is nowhere in the rendered ConfigMap.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ROOT } from './support/cluster.ts';
import { NodeCluster } from './support/node-cluster.ts';
import { eventually } from './support/processes.ts';
import { image } from './node/workloads.ts';

/** What the README's quick start creates. */
const APP_NS = 'rrlb-app';
const SYSTEM = 'reranker-lb-system';
const RELEASE = 'reranker-lb';
const QUERY = {
  model: 'rerank-v3.5',
  query: 'capital of France',
  documents: ['Paris is the capital of France.', 'Berlin is in Germany.'],
};

let cluster: NodeCluster | undefined;
const scratch = mkdtempSync(join(tmpdir(), 'rrlb-quickstart-'));

function node(): NodeCluster {
  assert.ok(cluster, 'the node did not start (see the before hook)');
  return cluster;
}

/** The shell block between the README's kubernetes-quickstart markers. */
function quickstartScript(readme: string): string {
  const block =
    /<!-- kubernetes-quickstart:begin -->\s*```bash\n([\s\S]*?)```\s*<!-- kubernetes-quickstart:end -->/.exec(readme);
  assert.ok(
    block,
    'README.md has a ```bash block between <!-- kubernetes-quickstart:begin --> and <!-- kubernetes-quickstart:end -->',
  );
  return block[1]!;
}

before(() => {
  cluster = NodeCluster.start();
});

after(() => {
  rmSync(scratch, { recursive: true, force: true });
  cluster?.stop();
});

describe("the README's Kubernetes quick start, run verbatim on a fresh real node", () => {
  let output = '';

  test('the script runs to the end: helm install, a pool, an injected workload, a routed call', () => {
    const script = quickstartScript(readFileSync(join(ROOT, 'README.md'), 'utf8'));
    const file = join(scratch, 'quickstart.sh');
    writeFileSync(file, `set -euo pipefail\n${script}`);
    const started = Date.now();
    try {
      // A user's shell: kubectl and helm first on PATH, the cluster in KUBECONFIG, caches in a home of its own.
      const env = {
        PATH: `${node().tools}:/usr/bin:/bin`,
        KUBECONFIG: node().kubeconfig,
        HOME: scratch,
        LANG: 'C.UTF-8',
      };
      output = execFileSync('bash', [file], {
        cwd: ROOT,
        env,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
        timeout: 900_000,
      });
    } catch (error) {
      const e = error as { stdout?: string; stderr?: string; message: string };
      throw new Error(`the quick start failed: ${e.message}\nstdout:\n${e.stdout ?? ''}\nstderr:\n${e.stderr ?? ''}`);
    }
    process.stdout.write(
      `# the README's Kubernetes quick start: ${((Date.now() - started) / 1000).toFixed(1)} s\n${output.replace(/^/gm, '#   ')}\n`,
    );
    const release = JSON.parse(node().helm(['status', RELEASE, '-n', SYSTEM, '-o', 'json'], scratch));
    assert.equal(release.info?.status, 'deployed', 'the chart is installed');
    assert.equal(node().getJson(['rrp', 'search', '-n', APP_NS]).metadata.name, 'search', 'the pool exists');
    assert.match(output, /^200 \{/m, 'the routed call printed its answer');
  });

  test('its call was ranked by a backend pod through the injected sidecar, and the pool reports the sidecar synced', async () => {
    const answer = /^200 (\{.*\})$/m.exec(output);
    assert.ok(answer, `the script printed "200 {...}": ${output}`);
    assert.equal(JSON.parse(answer[1]!).results[0].index, 0, 'Paris first');
    const pod = node().getJson(['pods', '-n', APP_NS, '-l', 'app=search-api']).items[0];
    assert.equal(pod.spec.initContainers?.[0]?.name, 'reranker-lb', 'the webhook injected the sidecar');
    const backends = node().getJson(['pods', '-n', APP_NS, '-l', 'app=tei-reranker']).items as any[];
    const served = await Promise.all(
      backends.map(
        async (p) =>
          ((await (await fetch(`http://${p.status.podIP}:8080/__stats`)).json()) as { requests: number }).requests,
      ),
    );
    assert.equal(
      served.reduce((a, b) => a + b, 0),
      1,
      `the backend pods served the one call: ${served}`,
    );
    await eventually(
      () =>
        node().kubectl([
          'get',
          'rrp',
          'search',
          '-n',
          APP_NS,
          '-o',
          'jsonpath={.status.sidecars.synced}/{.status.sidecars.total}',
        ]) === '1/1',
      60_000,
      'the pool to report its sidecar synced',
    );
  });
});

describe("the chart's gateway serves a pool whose backend needs an API key from a Secret", () => {
  const key = `rk-${randomBytes(16).toString('hex')}`;
  const SECRET = 'rerank-key';
  const POOL = 'keyed';
  const BACKEND = 'keyed-reranker';

  test('helm upgrade with the gateway on, serving the pool, with the Secret wired by gateway.apiKeySecrets', () => {
    node().kubectl(['create', 'secret', 'generic', SECRET, '-n', SYSTEM, `--from-literal=api-key=${key}`]);
    const labels = { app: BACKEND };
    node().apply([
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: BACKEND, namespace: SYSTEM },
        spec: {
          replicas: 1,
          selector: { matchLabels: labels },
          template: {
            metadata: { labels },
            spec: {
              securityContext: { runAsNonRoot: true, runAsUser: 1000, seccompProfile: { type: 'RuntimeDefault' } },
              containers: [
                {
                  name: 'reranker',
                  image: image('fake-backend'),
                  imagePullPolicy: 'IfNotPresent',
                  // The fake answers 401 to a rerank call without "Authorization: Bearer <key>", as a hosted API does.
                  args: ['--host', '0.0.0.0', '--port', '8080', '--format', 'tei', '--api-key', '$(API_KEY)'],
                  env: [{ name: 'API_KEY', valueFrom: { secretKeyRef: { name: SECRET, key: 'api-key' } } }],
                  ports: [{ name: 'http', containerPort: 8080 }],
                  readinessProbe: { httpGet: { path: '/health', port: 'http' }, periodSeconds: 1 },
                  securityContext: {
                    allowPrivilegeEscalation: false,
                    readOnlyRootFilesystem: true,
                    capabilities: { drop: ['ALL'] },
                  },
                },
              ],
            },
          },
        },
      },
      {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: BACKEND, namespace: SYSTEM },
        spec: { selector: labels, ports: [{ name: 'http', port: 8080, targetPort: 'http' }] },
      },
      {
        apiVersion: 'reranker.dev/v1alpha1',
        kind: 'RerankerPool',
        metadata: { name: POOL, namespace: SYSTEM },
        spec: {
          // The gateway has no local reranker.
          routing: { fallbackToLocal: false },
          backends: [
            {
              name: 'keyed',
              apiBase: `http://${BACKEND}.${SYSTEM}.svc:8080`,
              apiFormat: 'tei',
              apiKeySecretRef: { name: SECRET, key: 'api-key' },
            },
          ],
          sidecarSelector: {
            matchLabels: { 'app.kubernetes.io/instance': RELEASE, 'app.kubernetes.io/component': 'gateway' },
          },
        },
      },
    ]);
    node().kubectl(['rollout', 'status', `deployment/${BACKEND}`, '-n', SYSTEM, '--timeout', '120s'], {
      timeoutMs: 130_000,
    });
    // The gateway reads its pool's ConfigMap in the release namespace, so the operator serves that namespace too.
    const values = join(scratch, 'gateway-values.yaml');
    writeFileSync(
      values,
      JSON.stringify({
        operator: { namespaces: [APP_NS, SYSTEM] },
        gateway: { enabled: true, pool: POOL, replicas: 1, apiKeySecrets: [{ name: SECRET, key: 'api-key' }] },
      }),
    );
    const started = Date.now();
    node().helm(
      [
        'upgrade',
        RELEASE,
        join(ROOT, 'charts/reranker-lb'),
        '-n',
        SYSTEM,
        '--reuse-values',
        '-f',
        values,
        '--wait',
        '--timeout',
        '180s',
      ],
      scratch,
    );
    process.stdout.write(
      `# helm upgrade to a Ready gateway serving pool ${POOL}: ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
    );
    const gateway = node().getJson(['deployment', `${RELEASE}-gateway`, '-n', SYSTEM]);
    assert.equal(gateway.status.readyReplicas, 1, 'the gateway is Ready');
    const env = gateway.spec.template.spec.containers[0].env as { name: string; value?: string }[];
    assert.equal(
      env.find((e) => e.name === 'RERANKER_CONFIGMAP_NAME')?.value,
      `${POOL}-reranker-config`,
      `the gateway serves pool ${POOL}`,
    );
  });

  test('a rerank call through the gateway Service is answered by the keyed backend, which got the key', async () => {
    const backendIp = node().getJson(['pods', '-n', SYSTEM, '-l', `app=${BACKEND}`]).items[0].status.podIP as string;
    const direct = await fetch(`http://${backendIp}:8080/rerank`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: 'q', texts: ['a'] }),
    });
    assert.equal(direct.status, 401, 'without the key the backend refuses the call');

    const service = node().getJson(['service', `${RELEASE}-gateway`, '-n', SYSTEM]);
    const url = `http://${service.spec.clusterIP}:${service.spec.ports[0].port}/v1/rerank`;
    // Ready is not routed yet: kube-proxy programs the Service's new endpoint a moment after the
    // pod turns Ready, and until then the ClusterIP refuses connections (a refused connect is retried).
    const res = await eventually(
      () =>
        fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(QUERY),
          signal: AbortSignal.timeout(15_000),
        }),
      15_000,
      'the gateway Service to be routed by kube-proxy',
    );
    const body = (await res.json()) as { results?: { index: number }[] };
    assert.equal(res.status, 200, JSON.stringify(body));
    assert.equal(body.results?.[0]?.index, 0, `Paris first: ${JSON.stringify(body)}`);
    assert.match(res.headers.get('x-reranker-lb-backend') ?? '', /keyed/);
    const stats = (await (await fetch(`http://${backendIp}:8080/__stats`)).json()) as { lastAuthorization?: string };
    assert.equal(stats.lastAuthorization, `Bearer ${key}`, 'the gateway sent the key from the Secret');
  });

  test('the key is nowhere in the rendered ConfigMap, which names only the env the gateway gets from the Secret', () => {
    const configMap = node().getJson(['configmap', `${POOL}-reranker-config`, '-n', SYSTEM]);
    const text = JSON.stringify(configMap);
    assert.ok(!text.includes(key), 'the key is not in the ConfigMap');
    assert.match(configMap.data['reranker_config.yaml'], /os\.environ\/RERANKER_KEY_RERANK_KEY__API_KEY/);
    const env = node().getJson(['deployment', `${RELEASE}-gateway`, '-n', SYSTEM]).spec.template.spec.containers[0]
      .env as any[];
    assert.deepEqual(env.find((e) => e.name === 'RERANKER_KEY_RERANK_KEY__API_KEY')?.valueFrom, {
      secretKeyRef: { name: SECRET, key: 'api-key' },
    });
  });
});
