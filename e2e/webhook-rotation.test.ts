/**
 * A forced webhook CA rotation with two operator replicas under continuous pod creation, against a
 * real kube-apiserver: no admission may fail (the webhook's failurePolicy is Fail). The API server
 * calls one URL; a round-robin TCP proxy there spreads its connections over the two replicas, as a
 * Service does in a cluster, and TLS runs end to end so the API server sees each replica's own
 * certificate.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { loadAll } from 'js-yaml';
import { Agent, request } from 'undici';
import { fingerprint, parseBundle } from '../operator/certs/rotation.ts';
import { freePort } from '../test/support/ports.ts';
import { ADMIN, Cluster, ROOT, serviceAccountUser } from './support/cluster.ts';
import { helm as runHelm } from './support/helm.ts';
import { setUpAddresses, tearDownAddresses } from './support/net.ts';
import { eventually, startProcess, stopAll, type Proc } from './support/processes.ts';

const SYSTEM = 'rrlb-rot-system';
const APP = 'rrlb-rot-app';
const RELEASE = 'rrlb';
const OPERATOR_SA = serviceAccountUser(SYSTEM, `${RELEASE}-reranker-lb-operator`);
const WEBHOOK_CONFIG = `${RELEASE}-reranker-lb-sidecar-injector`;
const SECRET = `${RELEASE}-reranker-lb-webhook-tls`;

let cluster: Cluster;
let ips: string[];
let port: number;
let proxy: Server;
const sockets = new Set<Socket>();
/** Connections the proxy handed to each replica. */
const connections = [0, 0];
const operators: Proc[] = [];
const scratch = mkdtempSync(join(tmpdir(), 'rrlb-rotation-'));
const agent = new Agent({ connect: { rejectUnauthorized: false } });

/** The fingerprint of each CA in the webhook's caBundle. */
function bundle(): string[] {
  return parseBundle(
    cluster.getJson(['mutatingwebhookconfiguration', WEBHOOK_CONFIG]).webhooks[0].clientConfig.caBundle,
  ).map(fingerprint);
}

function secretCa(): string | undefined {
  try {
    return fingerprint(
      Buffer.from(cluster.getJson(['secret', SECRET, '-n', SYSTEM]).data['ca.crt'], 'base64').toString(),
    );
  } catch {
    return undefined;
  }
}

/** The CA each replica last loaded a certificate from, as it logged it (rotation.ts fingerprints). */
function loadedCas(): (string | undefined)[] {
  return operators.map((p) => p.lines().findLast((l) => l.msg === 'webhook certificate loaded')?.ca);
}

/** Round robin over the two replicas, one TCP connection at a time. */
async function startProxy(): Promise<void> {
  let next = 0;
  proxy = createServer((client) => {
    const i = next++ % 2;
    connections[i]!++;
    const upstream = connect(port, ips[i + 1]!);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream).pipe(client);
  });
  proxy.listen(port, ips[0]);
  await once(proxy, 'listening');
}

/** Creates labelled pods, `concurrency` at a time, until stopped; every refusal is kept. */
function podLoad(concurrency: number) {
  let stopped = false;
  let created = 0;
  const failures: string[] = [];
  let n = 0;
  const loop = async () => {
    while (!stopped) {
      const name = `load-${n++}`;
      const body = {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name, namespace: APP, labels: { 'reranker.dev/pool': 'search', load: 'yes' } },
        spec: { containers: [{ name: 'app', image: 'example/app:1' }] },
      };
      const res = await request(`${cluster.url}/api/v1/namespaces/${APP}/pods`, {
        method: 'POST',
        dispatcher: agent,
        headers: { authorization: `Bearer ${ADMIN.token}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      const text = await res.body.text();
      if (res.statusCode === 201) created++;
      else failures.push(`${name}: ${res.statusCode} ${text.slice(0, 300)}`);
    }
  };
  const loops = Array.from({ length: concurrency }, loop);
  return {
    get created() {
      return created;
    },
    failures,
    async stop() {
      stopped = true;
      await Promise.all(loops);
    },
  };
}

before(async () => {
  ips = setUpAddresses(3);
  cluster = new Cluster([OPERATOR_SA]);
  await cluster.start();
  for (const ns of [SYSTEM, APP]) cluster.kubectl(['create', 'namespace', ns]);
  port = await freePort();
  const url = `https://${ips[0]}:${port}/mutate-pods`;
  const helm = (args: readonly string[]) => runHelm(cluster, scratch, args);
  helm([
    'install',
    RELEASE,
    join(ROOT, 'charts/reranker-lb'),
    '-n',
    SYSTEM,
    '--set',
    `operator.namespaces={${APP}}`,
    '--set',
    `injection.url=${url}`,
    '--set',
    `injection.port=${port}`,
    '--set',
    'injection.certCheckSeconds=1',
  ]);
  cluster.kubectl(['wait', '--for=condition=Established', 'crd/rerankerpools.reranker.dev', '--timeout=30s']);
  const docs = loadAll(helm(['get', 'manifest', RELEASE, '-n', SYSTEM])) as any[];
  const deployment = docs.find((d) => d?.kind === 'Deployment' && d.metadata.name.endsWith('-operator'));
  const chartEnv = Object.fromEntries(
    deployment.spec.template.spec.containers[0].env
      .filter((e: any) => e.value !== undefined)
      .map((e: any) => [e.name, e.value]),
  );
  cluster.apply({
    apiVersion: 'reranker.dev/v1alpha1',
    kind: 'RerankerPool',
    metadata: { name: 'search', namespace: APP },
    spec: { backends: [{ name: 'a', apiBase: 'http://a.example:8080', apiFormat: 'cohere' }] },
  });
  await startProxy();
  for (const [i, name] of ['operator-a', 'operator-b'].entries()) {
    operators.push(
      startProcess(name, 'operator/main.ts', {
        ...chartEnv,
        KUBECONFIG: cluster.kubeconfig(OPERATOR_SA),
        POD_NAMESPACE: SYSTEM,
        POD_NAME: name,
        OPERATOR_PORT: String(await freePort()),
        OPERATOR_HOST: '127.0.0.1',
        WEBHOOK_HOST: ips[i + 1]!,
      }),
    );
  }
});

after(async () => {
  await stopAll();
  for (const s of sockets) s.destroy();
  proxy?.close();
  await agent.close();
  await cluster?.stop();
  tearDownAddresses();
  rmSync(scratch, { recursive: true, force: true });
});

test('a forced CA rotation with 2 webhook replicas under continuous pod creation: 0 failed admissions', async (t) => {
  await eventually(
    () => operators.every((p) => p.lines().some((l) => l.msg === 'injection webhook serving')),
    30_000,
    'both replicas to serve the webhook',
  ).catch((error: unknown) => {
    // Seen once under a loaded CI run (2026-12-03): say what each replica was doing.
    const tails = operators.map((p) => `${p.name} (exit ${p.child.exitCode}): ${p.text().slice(-1500)}`);
    throw new Error(`${String(error)}\n${tails.join('\n')}`);
  });
  const old = await eventually(
    () => {
      const ca = secretCa();
      return ca !== undefined && bundle().join() === ca && ca;
    },
    20_000,
    'the caBundle to be the CA',
  );
  await eventually(
    () => loadedCas().every((ca) => ca !== undefined && ca === loadedCas()[0]),
    10_000,
    'both replicas to serve from one CA',
  );
  const load = podLoad(3);
  await eventually(() => load.created >= 20, 30_000, 'pods to be admitted before the rotation');
  const before = [...connections];
  const started = Date.now();
  cluster.kubectl(['annotate', 'secret', SECRET, '-n', SYSTEM, 'webhook.reranker.dev/rotate-ca=now']);
  let most = 1;
  const fresh = await eventually(
    () => {
      const cas = bundle();
      most = Math.max(most, cas.length);
      const ca = secretCa();
      return ca !== undefined && ca !== old && cas.length === 1 && cas[0] === ca && ca;
    },
    90_000,
    'the rotation to finish: the bundle holds the new CA only',
  );
  const rotationMs = Date.now() - started;
  await new Promise((r) => setTimeout(r, 3000)); // admissions through the new bundle alone
  await load.stop();
  const created = load.created;
  t.diagnostic(
    `rotation finished in ${rotationMs} ms; ${created} pods admitted, ${load.failures.length} refused; connections per replica during it: ${connections.map((c, i) => c - before[i]!)}`,
  );
  assert.deepEqual(load.failures, [], 'no admission failed');
  assert.equal(most, 2, 'the old and the new CA were trusted together');
  assert.ok(
    connections.every((c, i) => c > before[i]!),
    'the API server opened connections to both replicas during the rotation',
  );
  assert.deepEqual(loadedCas(), [fresh, fresh], 'both replicas serve from the new CA');
  // The first init container of each stored pod (names only: the full list outgrows kubectl's output buffer).
  const sidecars = cluster
    .kubectl([
      'get',
      'pods',
      '-n',
      APP,
      '-l',
      'load=yes',
      '-o',
      'jsonpath={range .items[*]}{.spec.initContainers[0].name}{"\\n"}{end}',
    ])
    .trim()
    .split('\n');
  assert.equal(sidecars.length, created);
  assert.ok(
    sidecars.every((name) => name === 'reranker-lb'),
    'every pod was injected',
  );
});
