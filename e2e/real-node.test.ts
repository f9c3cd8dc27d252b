/**
 * The chart on a real node (e2e/node/up.sh: kubelet + containerd + runc + CNI bridge + kube-proxy
 * + CoreDNS, images built here by images/build.sh): the images run outside the cluster (podman,
 * read-only, non-root); helm install gives 2 operator pods with one leader; the sidecar in an app
 * pod finds fake-reranker pods by pod IP; under 50 calls/s from inside that pod, backends scale,
 * roll, get force-killed, the leader is deleted and helm upgrade rolls the operator to a new tag,
 * each with zero failed calls and the sidecar's backend set following the EndpointSlices; a
 * Prometheus with kubernetes_sd_configs scrapes the pods by IP and counts every call.
 * Needs root, like the rest of e2e. Prints each scenario's time and calls.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { freePort } from '../test/support/ports.ts';
import { ROOT } from './support/cluster.ts';
import { IMAGE_TAG, NODE_DIR, NodeCluster } from './support/node-cluster.ts';
import { eventually } from './support/processes.ts';
import { APP, app, BACKEND, backends, image, LOAD_PORT, pool, POOL } from './node/workloads.ts';

const SYSTEM = 'rrlb-system';
const NS = 'rrlb-app';
const RELEASE = 'rrlb';
const NEW_TAG = `${IMAGE_TAG}-rollout`;
const RATE = 50;
const QUERY = {
  model: 'rerank-v3.5',
  query: 'capital of France',
  documents: ['Paris is the capital of France.', 'Berlin is in Germany.'],
};

let cluster: NodeCluster | undefined;
let prometheus: ChildProcess | undefined;
let appIp = '';
const scratch = mkdtempSync(join(tmpdir(), 'rrlb-real-node-'));
const timings: { scenario: string; seconds: number; calls: number; failed: number }[] = [];
const podmanContainers: string[] = [];

function node(): NodeCluster {
  assert.ok(cluster, 'the node did not start (see the before hook)');
  return cluster;
}

function podman(args: readonly string[]): string {
  try {
    return execFileSync(join(ROOT, 'images/podman.sh'), args, {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 120_000,
    });
  } catch (error) {
    const e = error as { stderr?: string; message: string };
    throw new Error(`podman ${args.join(' ')}: ${e.stderr ?? e.message}`);
  }
}

async function json(url: string, init?: RequestInit): Promise<any> {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(10_000) });
  return res.json();
}

/** Waits for a podman container's endpoint to answer 200; on timeout, says what it answered and logged. */
async function ready(container: string, url: string): Promise<void> {
  let last = 'no answer';
  await eventually(
    async () => {
      try {
        const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
        last = `${res.status} ${await res.text()}`;
        return res.status === 200;
      } catch (error) {
        last = String((error as Error & { cause?: Error }).cause ?? error);
        return false;
      }
    },
    60_000,
    `${container} at ${url}`,
  ).catch((error: Error) => {
    const state = podman(['ps', '-a', '--filter', `name=${container}`, '--format', '{{.Status}}']).trim();
    throw new Error(
      `${error.message}; last answer: ${last}; container: ${state}; logs:\n${podman(['logs', container]).slice(-3000)}`,
    );
  });
}

interface LoadStats {
  sent: number;
  ok: number;
  failed: number;
  inFlight: number;
  maxLatencyMs: number;
  failures: { at: string; what: string }[];
}
const load = (): Promise<LoadStats> => json(`http://${appIp}:${LOAD_PORT}/stats`);

/** The ready, non-terminating addresses of the backends' EndpointSlices. */
function sliceAddresses(): string[] {
  const slices = node().getJson(['endpointslices', '-n', NS, '-l', `kubernetes.io/service-name=${BACKEND}`])
    .items as any[];
  return slices
    .flatMap((s) => s.endpoints ?? [])
    .filter((e) => e.conditions?.ready !== false && e.conditions?.terminating !== true)
    .flatMap((e) => e.addresses as string[])
    .sort();
}

/** The sidecar's ready backends (from its own /lb/backends): address and health. */
async function sidecarBackends(): Promise<{ address: string; health: string }[]> {
  const { backends: list } = await json(`http://${appIp}:8000/lb/backends`);
  // Ready endpoints (terminating and not-ready ones are listed too, as last resorts).
  return (list as { api_base: string; health: string; endpoint: string | null }[])
    .filter((b) => b.endpoint === 'ready')
    .map((b) => ({ address: new URL(b.api_base).hostname, health: b.health }))
    .sort((a, b) => a.address.localeCompare(b.address));
}

async function sidecarAddresses(): Promise<string[]> {
  return (await sidecarBackends()).map((b) => b.address);
}

/**
 * Waits until `count` backends are in the EndpointSlices and the sidecar has exactly those, each
 * past its health check: a new pod is not routed to before that, so this is when it serves.
 */
async function followed(count: number, what: string, ms = 90_000): Promise<string[]> {
  let last = '';
  return eventually(
    async () => {
      const slices = sliceAddresses();
      const sidecar = await sidecarBackends();
      last = `slices ${slices.join(',')}, sidecar ${sidecar.map((b) => `${b.address} ${b.health}`).join(',')}`;
      return (
        slices.length === count &&
        slices.join() === sidecar.map((b) => b.address).join() &&
        sidecar.every((b) => b.health === 'up') &&
        slices
      );
    },
    ms,
    `${what}: ${count} backends in the EndpointSlices, the same in the sidecar, all healthy`,
  ).catch((error: Error) => {
    throw new Error(`${error.message} (last seen: ${last})`);
  });
}

/** Runs one scenario under the steady load; asserts no call failed meanwhile and records its time. */
async function scenario(name: string, body: () => Promise<void>): Promise<void> {
  const at = await load();
  const started = Date.now();
  await body();
  const seconds = (Date.now() - started) / 1000;
  const now = await load();
  const failed = now.failed - at.failed;
  timings.push({ scenario: name, seconds, calls: now.sent - at.sent, failed });
  process.stdout.write(
    `# ${name}: ${seconds.toFixed(1)} s, ${now.sent - at.sent} calls, ${failed} failed, max latency so far ${now.maxLatencyMs} ms\n`,
  );
  assert.equal(failed, 0, `${name}: failed calls: ${JSON.stringify(now.failures.slice(-failed))}`);
}

function leaseHolder(): string {
  return (
    (node().getJson(['lease', 'reranker-lb-operator', '-n', SYSTEM]).spec?.holderIdentity as string | undefined) ?? ''
  );
}

function operatorPods(): any[] {
  return (node().getJson(['pods', '-n', SYSTEM, '-l', 'app.kubernetes.io/component=operator']).items as any[]).filter(
    (p) => p.metadata.deletionTimestamp === undefined,
  );
}

function scale(replicas: number): void {
  node().kubectl(['scale', `deployment/${BACKEND}`, '-n', NS, `--replicas=${replicas}`]);
}

function helmInstall(verb: 'install' | 'upgrade', tag: string): void {
  const set = [
    '--set',
    'operator.replicas=2',
    '--set',
    `operator.namespaces={${NS}}`,
    '--set',
    `operator.image.tag=${tag}`,
  ];
  node().helm(
    [verb, RELEASE, join(ROOT, 'charts/reranker-lb'), '-n', SYSTEM, ...set, '--wait', '--timeout', '180s'],
    scratch,
  );
}

before(async () => {
  cluster = NodeCluster.start();
  for (const ns of [SYSTEM, NS, 'rrlb-smoke']) node().kubectl(['create', 'namespace', ns]);
});

after(async () => {
  prometheus?.kill('SIGKILL');
  for (const name of podmanContainers) {
    try {
      podman(['rm', '-f', '-t', '0', name]);
    } catch {
      // already gone
    }
  }
  if (timings.length > 0) {
    process.stdout.write('# scenario timings under load:\n');
    for (const t of timings)
      process.stdout.write(
        `#   ${t.scenario.padEnd(44)} ${t.seconds.toFixed(1).padStart(6)} s  ${String(t.calls).padStart(6)} calls  ${t.failed} failed\n`,
      );
  }
  rmSync(scratch, { recursive: true, force: true });
  cluster?.stop();
});

describe('the sidecar image outside the cluster (podman, read-only root filesystem, user 1000)', () => {
  test('the sidecar image with a mounted config answers a rerank call from a fake-backend container', async () => {
    const common = ['run', '-d', '--network', 'host', '--read-only', '--user', '1000:1000', '--cap-drop', 'ALL'];
    podmanContainers.push('rrlb-smoke-fake', 'rrlb-smoke-sidecar');
    // A port freePort() found free can be taken (by another process's outgoing connection) before
    // the container binds it: the fake then exits with EADDRINUSE. Try another port then. And the
    // sidecar's first health check runs within a second of its start, the next a minute later:
    // start it once the backend answers.
    let backendPort = 0;
    for (let attempt = 1; backendPort === 0; attempt++) {
      const port = await freePort();
      podman([
        ...common,
        '--name',
        'rrlb-smoke-fake',
        image('fake-backend'),
        '--host',
        '127.0.0.1',
        '--port',
        String(port),
        '--format',
        'tei',
      ]);
      const up = await eventually(
        async () => {
          if (
            /^Exited/.test(podman(['ps', '-a', '--filter', 'name=rrlb-smoke-fake', '--format', '{{.Status}}']).trim())
          )
            return 'exited';
          return (
            (await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(2000) })
              .then((r) => r.status === 200)
              .catch(() => false)) && 'up'
          );
        },
        60_000,
        'rrlb-smoke-fake to answer or exit',
      );
      if (up === 'up') backendPort = port;
      else if (attempt < 3) podman(['rm', '-f', '-t', '0', 'rrlb-smoke-fake']);
      else throw new Error(`rrlb-smoke-fake exited 3 times: ${podman(['logs', 'rrlb-smoke-fake']).slice(-2000)}`);
    }
    const sidecarPort = await freePort();
    const config = join(scratch, 'sidecar-config');
    mkdirSync(config, { recursive: true });
    writeFileSync(
      join(config, 'reranker_config.yaml'),
      `model_list:\n  - model_name: fake\n    litellm_params:\n      api_base: "http://127.0.0.1:${backendPort}"\n      api_format: tei\nrouter_settings:\n  fallback_to_local: false\n`,
    );
    podman([
      ...common,
      '--name',
      'rrlb-smoke-sidecar',
      '-v',
      `${config}:/etc/reranker-lb:ro`,
      '-e',
      'RERANKER_LOAD_BALANCER_ENABLED=true',
      '-e',
      'RERANKER_CONFIG_PATH=/etc/reranker-lb/reranker_config.yaml',
      '-e',
      'RERANKER_LB_HOST=127.0.0.1',
      '-e',
      `RERANKER_LB_PORT=${sidecarPort}`,
      image('sidecar'),
    ]);
    await ready('rrlb-smoke-sidecar', `http://127.0.0.1:${sidecarPort}/ready`);
    const answer = await json(`http://127.0.0.1:${sidecarPort}/v1/rerank`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(QUERY),
    });
    assert.equal(answer.results?.[0]?.index, 0, JSON.stringify(answer));
    const inside = podman([
      'exec',
      'rrlb-smoke-sidecar',
      '/usr/local/bin/node',
      '-e',
      "let w='written'; try { require('fs').writeFileSync('/probe', 'x') } catch (e) { w = e.code } console.log(process.getuid(), process.getgid(), w)",
    ]);
    assert.equal(inside.trim(), '1000 1000 EROFS');
  });
});

describe('the chart on a real node', () => {
  test('helm install with the local images: operator Deployment with 2 Ready replicas, exactly one leader', async () => {
    const started = Date.now();
    helmInstall('install', IMAGE_TAG);
    const deployment = node().getJson(['deployment', '-n', SYSTEM, `${RELEASE}-reranker-lb-operator`]);
    assert.equal(deployment.status.readyReplicas, 2);
    const pods = operatorPods();
    assert.equal(pods.length, 2);
    for (const p of pods) assert.equal(p.spec.containers[0].image, image('operator'));
    const holder = await eventually(() => leaseHolder(), 30_000, 'a Lease holder');
    assert.ok(
      pods.some((p) => holder.startsWith(p.metadata.name)),
      `holder ${holder} is one of ${pods.map((p) => p.metadata.name)}`,
    );
    const leaders = await Promise.all(
      pods.map(async (p) =>
        /^reranker_operator_leader 1$/m.test(await (await fetch(`http://${p.status.podIP}:8081/metrics`)).text()),
      ),
    );
    assert.deepEqual(leaders.filter(Boolean).length, 1, 'exactly one pod reports reranker_operator_leader 1');
    process.stdout.write(`# helm install to 2 Ready operator pods: ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  });

  test('the operator image outside the cluster (podman, read-only, user 1000) starts against the API server and reports ready', async () => {
    const port = await freePort();
    const kubeconfig = join(scratch, 'operator-kubeconfig');
    copyFileSync(node().kubeconfig, kubeconfig);
    chmodSync(kubeconfig, 0o644); // the container's user 1000 reads it
    podmanContainers.push('rrlb-smoke-operator');
    podman([
      'run',
      '-d',
      '--network',
      'host',
      '--read-only',
      '--user',
      '1000:1000',
      '--cap-drop',
      'ALL',
      '--name',
      'rrlb-smoke-operator',
      '-v',
      `${kubeconfig}:/kube/config:ro`,
      '-e',
      'KUBECONFIG=/kube/config',
      '-e',
      'WATCH_NAMESPACES=rrlb-smoke',
      '-e',
      'POD_NAMESPACE=rrlb-smoke',
      '-e',
      'LEASE_NAME=rrlb-smoke',
      '-e',
      'OPERATOR_HOST=127.0.0.1',
      '-e',
      `OPERATOR_PORT=${port}`,
      image('operator'),
    ]);
    await ready('rrlb-smoke-operator', `http://127.0.0.1:${port}/readyz`);
    // Ready, and doing its job: it leads its Lease (the metric and the Lease say the same).
    const metrics = await eventually(
      async () => {
        const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
        return /^reranker_operator_leader 1$/m.test(text) && text;
      },
      30_000,
      'the operator image to lead its Lease',
    );
    assert.match(metrics, /^reranker_operator_leader 1$/m);
    assert.ok(
      node().getJson(['lease', 'rrlb-smoke', '-n', 'rrlb-smoke']).spec.holderIdentity,
      'the Lease names a holder',
    );
    podman(['rm', '-f', '-t', '5', 'rrlb-smoke-operator']);
  });
  test('the sidecar in the app pod finds the backends by pod IP; calls from inside the pod reach them', async () => {
    const started = Date.now();
    node().apply([...backends(NS, 3), pool(NS), ...app(NS)]);
    node().kubectl(['rollout', 'status', `deployment/${BACKEND}`, '-n', NS, '--timeout', '120s'], {
      timeoutMs: 130_000,
    });
    node().kubectl(['rollout', 'status', `deployment/${APP}`, '-n', NS, '--timeout', '120s'], { timeoutMs: 130_000 });
    appIp = node().getJson(['pods', '-n', NS, '-l', `app=${APP}`]).items[0].status.podIP;
    const backendPods = node().getJson(['pods', '-n', NS, '-l', `app=${BACKEND}`]).items as any[];
    const podIps = backendPods.map((p) => p.status.podIP as string).sort();
    assert.deepEqual(await followed(3, 'first config'), podIps, 'the sidecar routes to the backend pod IPs');
    process.stdout.write(
      `# backends + pool + app pod to a routed sidecar: ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
    );

    const calls = await json(`http://${appIp}:${LOAD_PORT}/calls?n=30`, { method: 'POST' });
    assert.deepEqual(calls, { ok: 30, failed: 0 });
    const served = await Promise.all(
      podIps.map(async (ip) => (await json(`http://${ip}:8080/__stats`)).requests as number),
    );
    assert.equal(
      served.reduce((a, b) => a + b, 0),
      30,
      `the backend pods served the 30 calls: ${served}`,
    );
    assert.ok(served.filter((n) => n > 0).length >= 2, `calls spread over the backends: ${served}`);
    await eventually(
      () =>
        node().kubectl([
          'get',
          'rrp',
          POOL,
          '-n',
          NS,
          '-o',
          'jsonpath={.status.sidecars.synced}/{.status.sidecars.total}',
        ]) === '1/1',
      30_000,
      'the pool to report its sidecar synced',
    );
  });

  describe(`under ${RATE} calls/s from inside the app pod`, () => {
    let configMapVersion = '';
    before(async () => {
      configMapVersion = node().getJson(['configmap', `${POOL}-reranker-config`, '-n', NS]).metadata.resourceVersion;
      await json(`http://${appIp}:${LOAD_PORT}/rate?rps=${RATE}`, { method: 'POST' });
    });

    test('scale the backends 3 -> 6 -> 2', async () => {
      await scenario('scale 3 -> 6', async () => {
        scale(6);
        await followed(6, 'scaled to 6');
      });
      await scenario('scale 6 -> 2', async () => {
        scale(2);
        await followed(2, 'scaled to 2');
      });
    });

    test('a rolling update of the backends', async () => {
      const old = sliceAddresses();
      await scenario('rolling update (2 backends)', async () => {
        node().kubectl(['rollout', 'restart', `deployment/${BACKEND}`, '-n', NS]);
        node().kubectl(['rollout', 'status', `deployment/${BACKEND}`, '-n', NS, '--timeout', '180s'], {
          timeoutMs: 190_000,
        });
        const now = await followed(2, 'rolled');
        assert.ok(
          now.every((ip) => !old.includes(ip)),
          `new pods only: ${old} -> ${now}`,
        );
      });
    });

    test('a backend pod killed with --grace-period=0 --force', async () => {
      const victim = node().getJson(['pods', '-n', NS, '-l', `app=${BACKEND}`]).items[0];
      await scenario('backend pod force-killed', async () => {
        node().kubectl(['delete', 'pod', victim.metadata.name, '-n', NS, '--grace-period=0', '--force']);
        await eventually(
          async () => !(await sidecarAddresses()).includes(victim.status.podIP),
          30_000,
          'the sidecar to drop the killed pod',
        );
        const now = await followed(2, 'replaced');
        assert.ok(!now.includes(victim.status.podIP));
      });
    });

    test('the leader operator pod deleted: the other replica takes over and reconciles', async () => {
      const holder = leaseHolder();
      const leader = operatorPods().find((p) => holder.startsWith(p.metadata.name));
      assert.ok(leader, `a pod holds the lease (${holder})`);
      await scenario('leader operator pod deleted', async () => {
        node().kubectl(['delete', 'pod', leader.metadata.name, '-n', SYSTEM, '--wait=false']);
        await eventually(
          () =>
            leaseHolder() !== holder &&
            leaseHolder() !== '' &&
            !leaseHolder().startsWith(leader.metadata.name) &&
            leaseHolder(),
          60_000,
          'a new lease holder',
        );
        scale(3);
        await followed(3, 'scaled to 3 by the new leader');
      });
    });

    test('helm upgrade to a new operator image tag', async () => {
      node().ctr(['images', 'tag', '--force', image('operator'), image('operator', NEW_TAG)]);
      await scenario(`helm upgrade operator to :${NEW_TAG}`, async () => {
        helmInstall('upgrade', NEW_TAG);
        node().kubectl(
          ['rollout', 'status', `deployment/${RELEASE}-reranker-lb-operator`, '-n', SYSTEM, '--timeout', '120s'],
          { timeoutMs: 130_000 },
        );
        const pods = operatorPods();
        assert.deepEqual(
          pods.map((p) => p.spec.containers[0].image),
          [image('operator', NEW_TAG), image('operator', NEW_TAG)],
        );
        await eventually(
          () => pods.some((p) => leaseHolder().startsWith(p.metadata.name)),
          60_000,
          'an upgraded pod to hold the lease',
        );
        scale(2);
        await followed(2, 'scaled to 2 by the upgraded operator');
      });
    });

    test('the load stops with every call answered', async () => {
      await json(`http://${appIp}:${LOAD_PORT}/rate?rps=0`, { method: 'POST' });
      const stats = await eventually(
        async () => {
          const s = await load();
          return s.inFlight === 0 && s;
        },
        40_000,
        'calls in flight to finish',
      );
      process.stdout.write(
        `# load: ${stats.sent} calls, ${stats.ok} ok, ${stats.failed} failed, max latency ${stats.maxLatencyMs} ms\n`,
      );
      assert.equal(stats.failed, 0, JSON.stringify(stats.failures));
      assert.equal(stats.ok, stats.sent);
      // The sidecar followed every endpoint change from the EndpointSlices; the pool's spec never
      // changed, so neither did its ConfigMap.
      assert.equal(
        node().getJson(['configmap', `${POOL}-reranker-config`, '-n', NS]).metadata.resourceVersion,
        configMapVersion,
        'the ConfigMap was not rewritten by endpoint changes',
      );
    });
  });

  test('Prometheus with kubernetes_sd_configs scrapes the sidecar and operator pods by IP; the request counter equals the calls made', async () => {
    const binary = execFileSync(join(ROOT, 'e2e/kube/build-prometheus.sh'), {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    })
      .trim()
      .split('\n')
      .pop()!;
    const kubeconfig = readFileSync(node().kubeconfig, 'utf8');
    writeFileSync(join(scratch, 'token'), /token: "([^"]+)"/.exec(kubeconfig)![1]!);
    const sd = (namespace: string) => ({
      role: 'pod',
      api_server: 'https://198.18.201.1:26443',
      tls_config: { ca_file: join(NODE_DIR, 'cp/certs/apiserver.crt') },
      authorization: { credentials_file: join(scratch, 'token') },
      namespaces: { names: [namespace] },
    });
    const keep = (label: string, value: string) => ({ source_labels: [label], regex: value, action: 'keep' });
    writeFileSync(
      join(scratch, 'prometheus.yml'),
      JSON.stringify({
        global: { scrape_interval: '1s', scrape_timeout: '1s' },
        scrape_configs: [
          {
            job_name: 'reranker-lb-sidecar',
            kubernetes_sd_configs: [sd(NS)],
            relabel_configs: [
              keep('__meta_kubernetes_pod_label_reranker_dev_sidecar', 'true'),
              keep('__meta_kubernetes_pod_container_port_name', 'reranker-lb'),
            ],
          },
          {
            job_name: 'reranker-lb-operator',
            kubernetes_sd_configs: [sd(SYSTEM)],
            relabel_configs: [
              keep('__meta_kubernetes_pod_label_app_kubernetes_io_component', 'operator'),
              keep('__meta_kubernetes_pod_container_port_name', 'metrics'),
              keep('__meta_kubernetes_pod_ready', 'true'),
            ],
          },
        ],
      }),
    );
    const port = await freePort();
    prometheus = spawn(
      binary,
      [
        `--config.file=${join(scratch, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(scratch, 'prometheus')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--log.level=error',
      ],
      { stdio: 'ignore' },
    );
    const query = async (q: string): Promise<any[]> =>
      (await json(`http://127.0.0.1:${port}/api/v1/query?query=${encodeURIComponent(q)}`)).data?.result ?? [];
    const operatorIps = operatorPods()
      .map((p) => `${p.status.podIP}:8081`)
      .sort();
    await eventually(
      async () => {
        const sidecars = (await query('up{job="reranker-lb-sidecar"} == 1')).map((r) => r.metric.instance);
        const operators = (await query('up{job="reranker-lb-operator"} == 1')).map((r) => r.metric.instance).sort();
        return sidecars.join() === `${appIp}:8000` && operators.join() === operatorIps.join();
      },
      60_000,
      `Prometheus to scrape the sidecar at ${appIp}:8000 and the operators at ${operatorIps}`,
    );
    const calls = (await load()).sent;
    await eventually(
      async () =>
        Number((await query('sum(reranker_lb_requests_total{job="reranker-lb-sidecar"})'))[0]?.value?.[1]) === calls,
      30_000,
      `Prometheus to count the ${calls} calls made`,
    );
    assert.equal(
      Number((await query('sum(reranker_operator_leader{job="reranker-lb-operator"})'))[0]?.value?.[1]),
      1,
      'one leader among the scraped operators',
    );
    process.stdout.write(
      `# Prometheus counted ${calls} calls through the sidecar, found 1 sidecar and 2 operator pods by pod IP\n`,
    );
  });
});
