/**
 * make scale-sync: the operator's sidecar sync at 200 sidecars, against a real kube-apiserver +
 * etcd (e2e's harness). One RerankerPool selects 200 Pods whose status.podIP are addresses on
 * this machine (198.18.<RRLB_E2E_NET>.x, needs root); stand-in sidecars answer GET /lb/config on
 * them (stand-in-sidecars.ts). Measures: a spec change until status.sidecars is 200/200; the
 * /lb/config request rate when all are synced and while 20 lag; the most requests in flight; the
 * operator's CPU and RSS; and one reconcile with 10 sidecars hanging, and one with 10 whose
 * packets are dropped (iptables). Writes docs/results/sidecar-sync.json.
 *
 *   RRLB_E2E_NET=91 node e2e/scale/sidecar-sync.ts [--sidecars 200] [--steady-seconds 60] [--changes 3]
 *     [--lagging 20] [--lag-seconds 60] [--hanging 10] [--blackholed 10] [--switch-max-ms 2000] [--answer-ms 10] [--resync-seconds 30] [--out FILE]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { Agent } from 'undici';
import { ADMIN, Cluster, ROOT } from '../support/cluster.ts';
import { setUpAddresses, tearDownAddresses } from '../support/net.ts';
import { startProcess, stopAll } from '../support/processes.ts';
import { freePort } from '../../test/support/ports.ts';
import { api, processMonitor, until, type ApiClient } from './probes.ts';
import { StandIns, peakPerSecond, rounds, type StandIn } from './stand-in-sidecars.ts';

const { values: args } = parseArgs({
  options: {
    sidecars: { type: 'string', default: '200' },
    'steady-seconds': { type: 'string', default: '60' },
    changes: { type: 'string', default: '3' },
    lagging: { type: 'string', default: '20' },
    'lag-seconds': { type: 'string', default: '60' },
    hanging: { type: 'string', default: '10' },
    blackholed: { type: 'string', default: '10' },
    'switch-max-ms': { type: 'string', default: '2000' },
    'answer-ms': { type: 'string', default: '10' },
    'resync-seconds': { type: 'string' },
    out: { type: 'string', default: join(ROOT, 'docs/results/sidecar-sync.json') },
  },
});
const SIDECARS = Number(args.sidecars);
const NS = 'sync';
const POOL = 'search';
const POOL_PATH = `/apis/reranker.dev/v1alpha1/namespaces/${NS}/rerankerpools/${POOL}`;
const SELECTOR = { 'reranker.dev/sidecar': 'true', app: 'search-api' };
const podName = (i: number) => `search-api-${String(i).padStart(3, '0')}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const round1 = (n: number) => Math.round(n * 10) / 10;
const mib = (bytes: number) => Math.round(bytes / 2 ** 20);

interface PoolStatus {
  configHash?: string;
  sidecars?: { synced: number; total: number };
  conditions?: { type: string; status: string; message: string }[];
}

async function poolStatus(c: ApiClient): Promise<PoolStatus> {
  return (await api<{ status?: PoolStatus }>(c, 'GET', POOL_PATH)).status ?? {};
}

/** status.sidecars says `synced`/SIDECARS for the config the stand-ins last read. */
function syncedAt(c: ApiClient, sidecars: StandIns, synced = SIDECARS): () => Promise<boolean> {
  return async () => {
    const s = await poolStatus(c);
    return (
      s.configHash !== undefined &&
      s.configHash === sidecars.latest &&
      s.sidecars?.synced === synced &&
      s.sidecars.total === SIDECARS
    );
  };
}

let generation = 0;
/** A spec change that renders a different config: the static backend moves. */
async function changeSpec(c: ApiClient): Promise<void> {
  generation++;
  await api(
    c,
    'PATCH',
    POOL_PATH,
    { spec: { backends: [{ name: 'static-1', apiBase: `http://reranker-${generation}.example:8080` }] } },
    'application/merge-patch+json',
  );
}

/** The operator's reconcile-duration histogram: total seconds and count. */
async function reconcileSeconds(port: number): Promise<{ sum: number; count: number }> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const pick = (suffix: string) =>
    Number(
      new RegExp(`^reranker_operator_reconcile_duration_seconds_${suffix} ([0-9.e+-]+)$`, 'm').exec(text)?.[1] ?? NaN,
    );
  return { sum: pick('sum'), count: pick('count') };
}

/** `count` stand-ins spread evenly over the pod names. */
const spread = (all: readonly StandIn[], count: number, offset: number) =>
  Array.from({ length: count }, (_, k) => all[(offset + Math.floor((k * all.length) / count)) % all.length]!);

async function main(): Promise<void> {
  const ips = setUpAddresses(SIDECARS);
  const cluster = new Cluster([]);
  const sidecars = new StandIns(
    ips.map((ip, i) => ({ pod: podName(i), ip })),
    Number(args['switch-max-ms']),
    Number(args['answer-ms']),
  );
  const agent = new Agent({ connect: { rejectUnauthorized: false }, connections: 32 });
  const cleanUp = async () => {
    await stopAll();
    await sidecars.close();
    await agent.close();
    await cluster.stop();
    tearDownAddresses();
  };
  process.once('SIGINT', () => void cleanUp().finally(() => process.exit(130)));
  try {
    await cluster.start();
    const c: ApiClient = { url: cluster.url, token: ADMIN.token, agent };
    cluster.kubectl(['apply', '-f', join(ROOT, 'crds/')]);
    cluster.kubectl(['wait', '--for=condition=Established', 'crd/rerankerpools.reranker.dev', '--timeout=30s']);
    cluster.kubectl(['create', 'namespace', NS]);
    for (let i = 0; i < SIDECARS; i += 16) {
      await Promise.all(
        ips.slice(i, i + 16).map(async (ip, k) => {
          const name = podName(i + k);
          await api(c, 'POST', `/api/v1/namespaces/${NS}/pods`, {
            apiVersion: 'v1',
            kind: 'Pod',
            metadata: { name, namespace: NS, labels: SELECTOR },
            spec: { containers: [{ name: 'app', image: 'example/app:1' }] },
          });
          await api(
            c,
            'PATCH',
            `/api/v1/namespaces/${NS}/pods/${name}/status`,
            { status: { podIP: ip, podIPs: [{ ip }] } },
            'application/merge-patch+json',
          );
        }),
      );
    }
    await sidecars.listen(8000);
    await api(c, 'POST', `/apis/reranker.dev/v1alpha1/namespaces/${NS}/rerankerpools`, {
      apiVersion: 'reranker.dev/v1alpha1',
      kind: 'RerankerPool',
      metadata: { name: POOL, namespace: NS },
      spec: {
        backends: [{ name: 'static-1', apiBase: 'http://reranker-0.example:8080' }],
        sidecarSelector: { matchLabels: SELECTOR },
      },
    });
    sidecars.follow(c, NS, `${POOL}-reranker-config`);

    const port = await freePort();
    const resync: Record<string, string> =
      args['resync-seconds'] === undefined ? {} : { OPERATOR_SIDECAR_RESYNC_SECONDS: args['resync-seconds'] };
    const operator = startProcess('operator', 'operator/main.ts', {
      KUBECONFIG: cluster.kubeconfig(ADMIN),
      POD_NAMESPACE: NS,
      LEADER_ELECT: 'false',
      OPERATOR_PORT: String(port),
      OPERATOR_HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      ...resync,
    });
    const monitor = processMonitor(operator.child.pid!);
    const initialSyncMs = await until(`${SIDECARS}/${SIDECARS} synced at start`, syncedAt(c, sidecars), 120_000, 100);
    console.error(`${SIDECARS}/${SIDECARS} synced ${initialSyncMs} ms after the operator started`);

    // (1) Steady state: everyone synced, asked every resync period.
    await sleep(5000);
    sidecars.traffic.maxInFlight = 0;
    const steadyFrom = Date.now();
    await sleep(Number(args['steady-seconds']) * 1000);
    const steadyTo = Date.now();
    const steadyTimes = sidecars.between(steadyFrom, steadyTo);
    const steadyCpu = monitor.between(steadyFrom, steadyTo);
    const steady = {
      seconds: round1((steadyTo - steadyFrom) / 1000),
      requests: steadyTimes.length,
      requestsPerSecond: round1(steadyTimes.length / ((steadyTo - steadyFrom) / 1000)),
      rounds: rounds(steadyTimes, steadyFrom),
      maxInFlight: sidecars.traffic.maxInFlight,
      operatorCores: Math.round(steadyCpu.cores * 1000) / 1000,
      operatorPeakRssMiB: mib(steadyCpu.peakRssBytes),
    };
    console.error('steady', JSON.stringify(steady));

    // (2) Spec changes: the stand-ins follow within 0..switch-max-ms; until status says all synced.
    sidecars.traffic.maxInFlight = 0;
    const changes = [];
    for (let k = 0; k < Number(args.changes); k++) {
      const before = sidecars.latest;
      const t0 = Date.now();
      await changeSpec(c);
      const ms = await until('the stand-ins to see the new config', async () => sidecars.latest !== before, 30_000, 50);
      const convergedMs = await until(
        `${SIDECARS}/${SIDECARS} synced after a spec change`,
        syncedAt(c, sidecars),
        60_000,
        100,
      );
      const requests = sidecars.between(t0, Date.now());
      changes.push({
        convergedMs: convergedMs + ms,
        configMapSeenMs: sidecars.changedAt - t0,
        lastSidecarSwitchedMs: sidecars.lastSwitchAt - t0,
        requests: requests.length,
        rounds: rounds(requests, t0),
      });
      console.error('change', JSON.stringify(changes.at(-1)));
      await sleep(3000);
    }
    const changeMaxInFlight = sidecars.traffic.maxInFlight;

    // (3) 20 lag: they keep the old config for lag-seconds after a spec change.
    const laggards = spread(sidecars.all, Number(args.lagging), 3);
    for (const s of laggards) s.hold = true;
    sidecars.traffic.maxInFlight = 0;
    const lagFrom = Date.now();
    await changeSpec(c);
    await sleep(Number(args['lag-seconds']) * 1000);
    const lagTo = Date.now();
    const lagStatus = await poolStatus(c);
    const lagTimes = sidecars.between(lagFrom, lagTo);
    const lagCpu = monitor.between(lagFrom, lagTo);
    for (const s of laggards) sidecars.release(s);
    const lagRecoveredMs = await until(
      `${SIDECARS}/${SIDECARS} synced after the laggards caught up`,
      syncedAt(c, sidecars),
      60_000,
      100,
    );
    const lagging = {
      laggards: laggards.length,
      seconds: round1((lagTo - lagFrom) / 1000),
      requests: lagTimes.length,
      requestsPerSecond: round1(lagTimes.length / ((lagTo - lagFrom) / 1000)),
      peakRequestsInOneSecond: peakPerSecond(lagTimes),
      rounds: rounds(lagTimes, lagFrom),
      maxInFlight: sidecars.traffic.maxInFlight,
      statusAtEnd: {
        sidecars: lagStatus.sidecars,
        message: lagStatus.conditions?.find((x) => x.type === 'SidecarsSynced')?.message,
      },
      caughtUpToStatusMs: lagRecoveredMs,
      operatorCores: Math.round(lagCpu.cores * 1000) / 1000,
      operatorPeakRssMiB: mib(lagCpu.peakRssBytes),
    };
    console.error('lagging', JSON.stringify(lagging));

    // (4) 10 hang past the operator's 1 s timeout, then 10 drop every packet; a pod event starts one reconcile each time.
    const unanswered = async (kind: 'hanging' | 'blackholed', count: number, offset: number) => {
      await sleep(2000);
      const chosen = spread(sidecars.all, count, offset);
      for (const s of chosen) {
        if (kind === 'hanging') s.delayMs = 30_000;
        else sidecars.blackhole(s);
      }
      sidecars.traffic.maxInFlight = 0;
      const histBefore = await reconcileSeconds(port);
      const from = Date.now();
      await api(
        c,
        'PATCH',
        `/api/v1/namespaces/${NS}/pods/${podName(0)}`,
        { metadata: { labels: { touched: kind } } },
        'application/merge-patch+json',
      );
      const statusMs = await until(
        `status to name the ${kind} sidecars`,
        syncedAt(c, sidecars, SIDECARS - chosen.length),
        120_000,
        50,
      );
      const histAfter = await reconcileSeconds(port);
      const status = await poolStatus(c);
      const times = sidecars.between(from, Date.now());
      const cpu = monitor.between(from, Date.now());
      const message = status.conditions?.find((x) => x.type === 'SidecarsSynced')?.message ?? '';
      for (const s of chosen) {
        s.delayMs = sidecars.answerMs;
        sidecars.restore(s);
      }
      const recoveredMs = await until(
        `${SIDECARS}/${SIDECARS} synced after the ${kind} answered`,
        syncedAt(c, sidecars),
        120_000,
        100,
      );
      const out = {
        [kind]: chosen.length,
        podEventToStatusMs: statusMs,
        reconciles: histAfter.count - histBefore.count,
        reconcileSeconds: Math.round((histAfter.sum - histBefore.sum) * 100) / 100,
        requestsArrived: times.length,
        maxInFlight: sidecars.traffic.maxInFlight,
        status: { sidecars: status.sidecars, message },
        namedInMessage: chosen.filter((s) => message.includes(`${s.pod} unreachable`)).length,
        recoveredToStatusMs: recoveredMs,
        operatorCores: Math.round(cpu.cores * 1000) / 1000,
        operatorPeakRssMiB: mib(cpu.peakRssBytes),
      };
      console.error(kind, JSON.stringify(out));
      return out;
    };
    const hanging = await unanswered('hanging', Number(args.hanging), 7);
    const blackholed =
      Number(args.blackholed) > 0 ? await unanswered('blackholed', Number(args.blackholed), 11) : undefined;

    monitor.stop();
    const result = {
      sidecars: SIDECARS,
      operatorResyncSeconds: Number(args['resync-seconds'] ?? 30),
      standInSwitchDelayMs: `0-${args['switch-max-ms']}`,
      standInAnswerMs: sidecars.answerMs,
      initialSyncMs,
      steady,
      specChanges: { changes, maxInFlight: changeMaxInFlight },
      lagging,
      hanging,
      blackholed,
      operatorEndRssMiB: mib(monitor.now().rssBytes),
    };
    mkdirSync(dirname(args.out!), { recursive: true });
    writeFileSync(args.out!, JSON.stringify(result, null, 2) + '\n');
    console.log(JSON.stringify(result, null, 2));
  } finally {
    await cleanUp();
  }
}

await main();
