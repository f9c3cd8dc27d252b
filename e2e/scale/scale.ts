/**
 * make scale: the operator against a real kube-apiserver + etcd (e2e's harness) with N pools,
 * each discovering its own Service's EndpointSlice, under endpoint churn; 20 raw ConfigMap
 * watchers stand in for the sidecars of one pool. Reports convergence, the operator's CPU and
 * RSS, and the apiserver's watch bytes per endpoint change per watcher. No sidecar or backend
 * runs: endpoint addresses are 198.18.0.0/15 documentation data nothing connects to.
 *
 *   node e2e/scale/scale.ts [--pools 200] [--endpoints 20] [--watched-endpoints 500] [--rate 20] [--seconds 60] [--watchers 20]
 *                           [--operator-root DIR] [--out FILE] [--node-options='--max-old-space-size=128']
 *                           [--discovery-mode rendered|sidecar]
 * --node-options sets the operator's NODE_OPTIONS (e.g. the heap size the chart's
 * --max-old-space-size-percentage gives under its memory limit).
 * --operator-root runs another checkout's operator (e.g. `git archive <rev>` unpacked, with
 * node_modules) against the same scenario, for before/after numbers.
 */
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { Agent, request } from 'undici';
import { ADMIN, Cluster, ROOT } from '../support/cluster.ts';
import { startProcess, stopAll } from '../support/processes.ts';
import { freePort } from '../../test/support/ports.ts';
import {
  api,
  countingWatch,
  difference,
  latencies,
  processMonitor,
  requestCounts,
  sampleProcess,
  until,
  watchEventSizes,
  type ApiClient,
} from './probes.ts';

const { values: args } = parseArgs({
  options: {
    pools: { type: 'string', default: '200' },
    endpoints: { type: 'string', default: '20' },
    'watched-endpoints': { type: 'string', default: '500' },
    rate: { type: 'string', default: '20' },
    seconds: { type: 'string', default: '60' },
    watchers: { type: 'string', default: '20' },
    'operator-root': { type: 'string', default: ROOT },
    out: { type: 'string', default: join(ROOT, 'docs/results/scale.json') },
    'node-options': { type: 'string' },
    // OPERATOR_WORKERS for the operator (unset: its default).
    workers: { type: 'string' },
    // A CPU profile of the apiserver over the operator's start (go tool pprof -top FILE).
    'apiserver-profile': { type: 'string' },
    // rendered: the ConfigMaps hold the endpoints (what the churn and its watchers measure);
    // sidecar (the pools' default): they hold templates, "rendered" is every ConfigMap written.
    'discovery-mode': { type: 'string', default: 'rendered' },
  },
});
const POOLS = Number(args.pools);
const RENDERED_MODE = args['discovery-mode'] === 'rendered';
if (!RENDERED_MODE && args['discovery-mode'] !== 'sidecar')
  throw new Error(`--discovery-mode: expected rendered or sidecar, got ${args['discovery-mode']}`);
const RATE = Number(args.rate);
const SECONDS = Number(args.seconds);
const WATCHERS = Number(args.watchers);
const NS = 'scale';
const name = (i: number) => `pool-${String(i).padStart(3, '0')}`;
const sizeOf = (i: number) => (i === 0 ? Number(args['watched-endpoints']) : Number(args.endpoints));

interface Endpoint {
  addresses: string[];
  conditions: { ready: boolean };
  targetRef: { kind: 'Pod'; name: string };
}

/** Each pool's slice, kept here so every update sends the whole endpoint list. */
const slices: Endpoint[][] = Array.from({ length: POOLS }, (_, i) =>
  Array.from({ length: sizeOf(i) }, (_, e) => ({
    addresses: [`198.${18 + Math.floor(e / 250)}.${i % 256}.${(e % 250) + 1}`],
    conditions: { ready: true },
    targetRef: { kind: 'Pod' as const, name: `reranker-7d9f8b6c4d-${String(e).padStart(5, '0')}` },
  })),
);
const readyCount = (i: number) => slices[i]!.filter((e) => e.conditions.ready).length;

function manifests(): unknown[] {
  return Array.from({ length: POOLS }, (_, i) => [
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: name(i), namespace: NS },
      spec: { ports: [{ name: 'http', port: 80, targetPort: 8080 }] },
    },
    {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: `${name(i)}-1`, namespace: NS, labels: { 'kubernetes.io/service-name': name(i) } },
      addressType: 'IPv4',
      ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
      endpoints: slices[i],
    },
    {
      apiVersion: 'reranker.dev/v1alpha1',
      kind: 'RerankerPool',
      metadata: { name: name(i), namespace: NS },
      spec: {
        discovery: [{ service: name(i), portName: 'http', apiFormat: 'tei' }],
        routing: { discoveryMode: args['discovery-mode'] },
      },
    },
  ]).flat();
}

/**
 * The rendered ConfigMaps' ready backend counts, kept by one watch (polling a list of 1,000
 * ConfigMaps several times a second would cost the apiserver more CPU than the operator's writes).
 */
function renderedTracker(c: ApiClient) {
  const ready = new Map<string, number>();
  const abort = new AbortController();
  let firstAt: number | undefined;
  type Cm = { metadata: { name: string }; data?: Record<string, string> };
  const see = (type: string, cm: Cm) => {
    const text = cm.data?.['reranker_config.yaml'];
    if (type === 'DELETED' || text === undefined) ready.delete(cm.metadata.name);
    else {
      firstAt ??= Date.now();
      ready.set(cm.metadata.name, text.split('model_name:').length - 1);
    }
  };
  // List, then watch from there; a watch the apiserver ends (a slow reader on a loaded box) is
  // picked up again by a new list.
  void (async () => {
    const collection = `${c.url}/api/v1/namespaces/${NS}/configmaps?labelSelector=reranker.dev%2Fpool`;
    while (!abort.signal.aborted) {
      try {
        const listed = await request(collection, {
          dispatcher: c.agent,
          headers: { authorization: `Bearer ${c.token}` },
          signal: abort.signal,
        });
        const list = (await listed.body.json()) as { items: Cm[]; metadata: { resourceVersion: string } };
        ready.clear();
        for (const cm of list.items) see('ADDED', cm);
        const res = await request(
          `${collection}&watch=true&timeoutSeconds=3600&resourceVersion=${list.metadata.resourceVersion}`,
          {
            dispatcher: c.agent,
            headers: { authorization: `Bearer ${c.token}` },
            signal: abort.signal,
            bodyTimeout: 0,
          },
        );
        let pending = '';
        for await (const chunk of res.body) {
          pending += chunk.toString();
          for (let nl = pending.indexOf('\n'); nl >= 0; nl = pending.indexOf('\n')) {
            const event = JSON.parse(pending.slice(0, nl)) as { type: string; object: Cm };
            pending = pending.slice(nl + 1);
            if (event.type !== 'ERROR') see(event.type, event.object);
          }
        }
      } catch {
        // aborted at the end of the run, or the watch failed: list again
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  })();
  return {
    allRendered: async () => {
      for (let i = 0; i < POOLS; i++) {
        const count = ready.get(`${name(i)}-reranker-config`);
        if (count === undefined || (RENDERED_MODE && count !== readyCount(i))) return false;
      }
      return true;
    },
    stop: () => abort.abort(),
    firstAt: () => firstAt,
    count: () => ready.size,
  };
}

const mib = (bytes: number) => Math.round(bytes / 2 ** 20);

let operatorProc: ReturnType<typeof startProcess> | undefined;
let tracker: ReturnType<typeof renderedTracker> | undefined;

async function main(): Promise<void> {
  const cluster = new Cluster([]);
  await cluster.start();
  const c: ApiClient = {
    url: cluster.url,
    token: ADMIN.token,
    agent: new Agent({ connect: { rejectUnauthorized: false }, connections: 64 }),
  };
  try {
    cluster.kubectl(['apply', '-f', join(ROOT, 'crds/')]);
    // kubectl wait fails at once when the CRD has no status yet: ask again.
    await until(
      'the CRD to be established',
      async () => {
        try {
          cluster.kubectl(['wait', '--for=condition=Established', 'crd/rerankerpools.reranker.dev', '--timeout=30s']);
          return true;
        } catch {
          return false;
        }
      },
      60_000,
      500,
    );
    cluster.kubectl(['create', 'namespace', NS]);
    // Created through the API, 16 at a time (kubectl apply of hundreds of objects is slow).
    const docs = manifests() as { apiVersion: string; kind: string }[];
    const collection = (d: { apiVersion: string; kind: string }) =>
      `${d.apiVersion === 'v1' ? '/api/v1' : `/apis/${d.apiVersion}`}/namespaces/${NS}/${d.kind === 'RerankerPool' ? 'rerankerpools' : `${d.kind.toLowerCase()}s`}`;
    for (let i = 0; i < docs.length; i += 16)
      await Promise.all(docs.slice(i, i + 16).map((d) => api(c, 'POST', collection(d), d)));

    tracker = renderedTracker(c);
    const rendered = tracker;
    const port = await freePort();
    operatorProc = startProcess('operator', join(args['operator-root']!, 'operator/main.ts'), {
      KUBECONFIG: cluster.kubeconfig(ADMIN),
      POD_NAMESPACE: NS,
      LEADER_ELECT: 'false',
      OPERATOR_PORT: String(port),
      OPERATOR_HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      ...(args['node-options'] === undefined ? {} : { NODE_OPTIONS: args['node-options'] }),
      ...(args.workers === undefined ? {} : { OPERATOR_WORKERS: args.workers }),
    });
    const operator = operatorProc;
    const monitor = processMonitor(operator.child.pid!);
    const profiled =
      args['apiserver-profile'] === undefined
        ? undefined
        : request(`${c.url}/debug/pprof/profile?seconds=20`, {
            dispatcher: c.agent,
            headers: { authorization: `Bearer ${c.token}` },
            bodyTimeout: 0,
            headersTimeout: 0,
          }).then(async (res) => writeFileSync(args['apiserver-profile']!, Buffer.from(await res.body.arrayBuffer())));
    const apiserverAtStart = sampleProcess(cluster.apiserverPid);
    const initialMs = await until('every pool to render', () => rendered.allRendered(), 180_000, 50).catch(
      (error: Error) => {
        throw new Error(
          `${error.message}: ${rendered.count()} seen rendered; the operator's last lines: ${operator.text().slice(-1500)}`,
        );
      },
    );
    const renderedAt = Date.now();
    const startLatencies = await latencies(c);
    console.error(`apiserver mean latencies over the start: ${JSON.stringify(startLatencies)}`);
    const firstRenderMs = (rendered.firstAt() ?? renderedAt) - (renderedAt - initialMs);
    await profiled;
    const startCpuSeconds = Math.round(monitor.now().cpuSeconds * 10) / 10;
    const apiserverStartCpuSeconds =
      Math.round((sampleProcess(cluster.apiserverPid).cpuSeconds - apiserverAtStart.cpuSeconds) * 10) / 10;
    console.error(
      `all ${POOLS} pools rendered in ${initialMs} ms (the first at ${firstRenderMs} ms; operator CPU ${startCpuSeconds} s, apiserver CPU ${apiserverStartCpuSeconds} s, load ${readFileSync('/proc/loadavg', 'utf8').split(' ')[0]})`,
    );
    await new Promise((r) => setTimeout(r, 10_000)); // settle: idle numbers
    const idle = monitor.between(renderedAt + 5000, Date.now());

    const watched = `${name(0)}-reranker-config`;
    const watchers = Array.from({ length: WATCHERS }, () => countingWatch(c, NS, watched));
    await new Promise((r) => setTimeout(r, 2000));
    const watchedBytesAtStart = watchers.map((w) => w.counts.bytes);
    const sizesBefore = await watchEventSizes(c, 'configmaps');
    const sliceSizesBefore = await watchEventSizes(c, 'endpointslices');
    const WRITTEN = ['configmaps', 'rerankerpools', 'events'];
    const writesBefore = await requestCounts(c, WRITTEN);

    // Churn: RATE slice updates per second, one in every RATE to the watched pool (1/s), the
    // rest spread over the others. Each flips one endpoint's readiness.
    const churnStart = Date.now();
    const watchedChanges: number[] = [];
    let sent = 0;
    let failed = 0;
    const total = RATE * SECONDS;
    while (sent < total) {
      const due = churnStart + (sent * 1000) / RATE;
      if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
      const pool = sent % RATE === 0 || POOLS === 1 ? 0 : 1 + (sent % (POOLS - 1));
      const endpoints = slices[pool]!;
      const e = endpoints[Math.floor(sent / RATE) % endpoints.length]!;
      e.conditions.ready = !e.conditions.ready;
      sent++;
      const at = Date.now();
      void api(
        c,
        'PATCH',
        `/apis/discovery.k8s.io/v1/namespaces/${NS}/endpointslices/${name(pool)}-1`,
        { endpoints },
        'application/merge-patch+json',
      )
        .then(() => pool === 0 && watchedChanges.push(at))
        .catch(() => failed++);
    }
    const churnEnd = Date.now();
    const settleMs = await until(
      'every pool to render its final endpoints',
      () => rendered.allRendered(),
      1180_000,
      50,
    );
    rendered.stop();
    const busy = monitor.between(churnStart, Date.now());
    const sizesAfter = await watchEventSizes(c, 'configmaps');
    const sliceSizesAfter = await watchEventSizes(c, 'endpointslices');
    const writes = difference(await requestCounts(c, WRITTEN), writesBefore);
    await new Promise((r) => setTimeout(r, 1000));

    // Each watched change -> the first event the first watcher saw after it.
    const seen = watchers[0]!.counts.eventTimes;
    const lags = watchedChanges
      .map((t) => (seen.find((s) => s >= t) ?? NaN) - t)
      .filter((l) => Number.isFinite(l))
      .sort((a, b) => a - b);
    const perWatcherBytes = watchers.map((w, i) => w.counts.bytes - watchedBytesAtStart[i]!);
    const watchedEvents = watchers[0]!.counts.events;
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const gauge = (metric: string) => mib(Number(new RegExp(`^${metric} ([0-9.e+]+)$`, 'm').exec(metrics)?.[1] ?? 0));
    const heap = {
      usedMiB: gauge('nodejs_heap_size_used_bytes'),
      totalMiB: gauge('nodejs_heap_size_total_bytes'),
      externalMiB: gauge('nodejs_external_memory_bytes'),
    };
    const reconciles = [...metrics.matchAll(/^reranker_operator_reconciles_total\{result="(\w+)"\} (\d+)/gm)]
      .map((m) => `${m[1]}=${m[2]}`)
      .join(' ');
    const watchedConfigBytes = Buffer.byteLength(
      (await api<{ data: Record<string, string> }>(c, 'GET', `/api/v1/namespaces/${NS}/configmaps/${watched}`)).data[
        'reranker_config.yaml'
      ]!,
    );
    const result = {
      operatorNodeOptions: args['node-options'] ?? '(none: V8 sizes its heap from the host memory)',
      pools: POOLS,
      endpointsPerPool: Number(args.endpoints),
      watchedPoolEndpoints: sizeOf(0),
      churn: {
        rate: RATE,
        seconds: SECONDS,
        sent,
        failed,
        watchedPoolChanges: watchedChanges.length,
        achievedRate: Math.round((sent / ((churnEnd - churnStart) / 1000)) * 10) / 10,
      },
      convergence: {
        initialAllPoolsMs: initialMs,
        firstPoolRenderedMs: firstRenderMs,
        apiserverMeanLatenciesMs: startLatencies,
        initialOperatorCpuSeconds: startCpuSeconds,
        initialApiserverCpuSeconds: apiserverStartCpuSeconds,
        afterChurnMs: settleMs,
        watchedChangeToWatcherMs: {
          p50: lags[Math.floor(lags.length / 2)],
          p99: lags[Math.floor(lags.length * 0.99)],
          max: lags.at(-1),
        },
      },
      operator: {
        idleRssMiB: mib(idle.endRssBytes),
        idleCores: Math.round(idle.cores * 1000) / 1000,
        churnPeakRssMiB: mib(busy.peakRssBytes),
        churnCores: Math.round(busy.cores * 1000) / 1000,
        endRssMiB: mib(busy.endRssBytes),
        heapAtEnd: heap,
        reconciles,
        apiserverWritesDuringChurn: writes,
      },
      watch: {
        watchers: WATCHERS,
        watchedConfigBytes,
        eventsPerWatcher: watchedEvents,
        bytesPerWatcherPerChange: Math.round(
          perWatcherBytes.reduce((a, b) => a + b, 0) / WATCHERS / Math.max(1, watchedEvents),
        ),
        apiserverConfigMapWatchEvents: sizesAfter.count - sizesBefore.count,
        apiserverAvgConfigMapEventBytes: Math.round(
          (sizesAfter.sum - sizesBefore.sum) / Math.max(1, sizesAfter.count - sizesBefore.count),
        ),
        apiserverConfigMapWatchBytes: Math.round(sizesAfter.sum - sizesBefore.sum),
        // What a watcher of EndpointSlices would get instead (here: the operator's one watch).
        apiserverEndpointSliceWatchEvents: sliceSizesAfter.count - sliceSizesBefore.count,
        apiserverAvgEndpointSliceEventBytes: Math.round(
          (sliceSizesAfter.sum - sliceSizesBefore.sum) / Math.max(1, sliceSizesAfter.count - sliceSizesBefore.count),
        ),
      },
    };
    for (const w of watchers) w.stop();
    monitor.stop();
    mkdirSync(dirname(args.out!), { recursive: true });
    writeFileSync(args.out!, JSON.stringify(result, null, 2) + '\n');
    console.log(JSON.stringify(result, null, 2));
  } finally {
    tracker?.stop();
    // SIGTERM first, so an operator run with --cpu-prof writes its profile.
    await Promise.race([operatorProc?.stop('SIGTERM'), new Promise((r) => setTimeout(r, 5000))]);
    await stopAll();
    await c.agent.destroy();
    await cluster.stop();
  }
}

await main();
