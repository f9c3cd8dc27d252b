/**
 * make scale-fleet (bytes): what 1,000 sidecars' watches cost the API server per endpoint change,
 * today's design against the EndpointSlice design, on a real kube-apiserver + etcd.
 *
 * - configmap (today): the operator renders the pool's endpoints into its ConfigMap; every sidecar
 *   watches that ConfigMap and gets the whole object on every render.
 * - slices (new): every sidecar watches the EndpointSlices of the pool's Service; slices hold at
 *   most 100 endpoints (as the endpointslice controller writes them), and a change rewrites one.
 *
 * A bare apiserver runs no endpointslice controller: this script writes the slices itself, with
 * the fields that controller writes for a pod (addresses, ready/serving/terminating, targetRef with
 * uid, nodeName, zone). Raw watches stand in for the sidecars; each counts the bytes of the watch
 * body it receives (JSON, or protobuf for slices-pb as the sidecar asks for it; after HTTP
 * chunking and TLS). Endpoint addresses are 198.18.0.0/15
 * documentation data nothing connects to.
 *
 *   node e2e/scale/fleet-watch.ts [--cases slices:500,slices:5000,slices:10000,slices-pb:5000,configmap:500,...]
 *        [--watchers 1000] [--rate 20] [--seconds 3] [--out docs/results/scale-fleet-watch.json]
 * A case may set its own watchers, rate and seconds: configmap:5000:100:2:10 (watchers:rate:seconds).
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { Agent, request } from 'undici';
import { ADMIN, Cluster, ROOT } from '../support/cluster.ts';
import { startProcess, type Proc } from '../support/processes.ts';
import { freePort } from '../../test/support/ports.ts';
import { api, processMonitor, until, watchEventSizes, type ApiClient } from './probes.ts';
import { decodeEndpointSlice } from '../../kube/protobuf/endpoint-slice.ts';
import { decodeWatchEvent, PROTOBUF_ACCEPT } from '../../kube/protobuf/envelope.ts';
import { readWatchFrames } from '../../kube/protobuf/watch-frames.ts';
import { MAX_WATCH_LINE_BYTES } from '../../kube/watch-lines.ts';

const { values: args } = parseArgs({
  options: {
    // Sized for a 2-core box, where one process reads every watch: bytes per change per watcher do
    // not depend on the rate or the watcher count, but at 1,000 watchers x 20 changes/s (560 MB/s)
    // this reader fell behind and the apiserver closed its watches as unresponsive. So 1,000
    // watchers see 1 change/s (0.5/s for today's 68 KB ConfigMap), and 10 watchers see 20/s.
    cases: {
      type: 'string',
      default:
        'slices:500:1000:1:10,slices:5000:1000:1:10,slices:10000:1000:1:10,slices-pb:500:1000:1:10,slices-pb:5000:1000:1:10,slices:5000:10:20:3,configmap:500:1000:0.5:10,configmap:5000:100:0.5:10,configmap:10000:10:1:1',
    },
    watchers: { type: 'string', default: '1000' },
    rate: { type: 'string', default: '20' },
    seconds: { type: 'string', default: '3' },
    out: { type: 'string', default: join(ROOT, 'docs/results/scale-fleet-watch.json') },
    'node-options': { type: 'string', default: '--max-old-space-size=128 --max-semi-space-size=8' },
  },
});

const SLICE_MAX = 100;

interface Endpoint {
  addresses: string[];
  conditions: { ready: boolean; serving: boolean; terminating: boolean };
  nodeName: string;
  zone: string;
  targetRef: { kind: 'Pod'; namespace: string; name: string; uid: string };
}

function endpoints(ns: string, count: number): Endpoint[] {
  return Array.from({ length: count }, (_, e) => ({
    addresses: [`198.${18 + Math.floor(e / 62_500)}.${Math.floor(e / 250) % 250}.${(e % 250) + 1}`],
    conditions: { ready: true, serving: true, terminating: false },
    nodeName: `node-${String(e % 500).padStart(4, '0')}`,
    zone: `zone-${'abc'[e % 3]}`,
    targetRef: {
      kind: 'Pod',
      namespace: ns,
      name: `reranker-7d9f8b6c4d-${String(e).padStart(5, '0')}`,
      uid: randomUUID(),
    },
  }));
}

/**
 * A raw watch that counts what it receives: body bytes and events (bookmarks apart). In protobuf
 * it asks as the sidecar's slice watch does (kube/api.ts) and decodes every frame with the
 * sidecar's own decoder, so what is counted is what a sidecar reads.
 */
function countingWatch(c: ApiClient, path: string, protobuf: boolean) {
  const counts = {
    bytes: 0,
    events: 0,
    bookmarks: 0,
    connected: false,
    ended: false,
    error: undefined as string | undefined,
  };
  const abort = new AbortController();
  const done = (async () => {
    try {
      const accept = protobuf ? PROTOBUF_ACCEPT : 'application/json';
      const res = await request(`${c.url}${path}`, {
        dispatcher: c.agent,
        headers: { authorization: `Bearer ${c.token}`, accept },
        signal: abort.signal,
        bodyTimeout: 0,
      });
      if (res.statusCode !== 200) throw new Error(`HTTP ${res.statusCode}: ${(await res.body.text()).slice(0, 200)}`);
      counts.connected = true;
      if (protobuf) {
        const counted = async function* () {
          for await (const chunk of res.body) {
            counts.bytes += chunk.length;
            yield chunk as Uint8Array;
          }
        };
        for await (const frame of readWatchFrames(counted(), MAX_WATCH_LINE_BYTES)) {
          if (decodeWatchEvent(frame, decodeEndpointSlice).type === 'BOOKMARK') counts.bookmarks++;
          else counts.events++;
        }
        counts.ended = true;
        return;
      }
      let tail = '';
      for await (const chunk of res.body) {
        counts.bytes += chunk.length;
        // Count event lines by their start only; no JSON parsing (the watcher must keep up).
        const text = tail + chunk.toString('latin1');
        let at = 0;
        for (let i = text.indexOf('{"type":"', at); i >= 0; i = text.indexOf('{"type":"', at)) {
          if (text.startsWith('BOOKMARK', i + 9)) counts.bookmarks++;
          else counts.events++;
          at = i + 9;
        }
        tail = text.slice(Math.max(at, text.length - 16));
      }
      counts.ended = true;
    } catch (error) {
      if (!abort.signal.aborted) counts.error = (error as Error).message;
    }
  })();
  return {
    counts,
    stop: () => {
      abort.abort();
      return done;
    },
  };
}

interface Case {
  /** slices-pb: the same slice watch in protobuf, as the sidecar (and client-go, kube-proxy) asks for it. */
  design: 'slices' | 'slices-pb' | 'configmap';
  endpoints: number;
  watchers: number;
  rate: number;
  seconds: number;
}

function parseCase(text: string): Case {
  const [design, n, w, r, s] = text.split(':');
  if (design !== 'slices' && design !== 'slices-pb' && design !== 'configmap')
    throw new Error(`--cases: unknown design ${design}`);
  return {
    design,
    endpoints: Number(n),
    watchers: Number(w ?? args.watchers),
    rate: Number(r ?? args.rate),
    seconds: Number(s ?? args.seconds),
  };
}

async function runCase(
  cluster: Cluster,
  c: ApiClient,
  w: ApiClient,
  k: Case,
  index: number,
): Promise<Record<string, unknown>> {
  const ns = `fleet-${index}-${k.design}-${k.endpoints}`;
  await api(c, 'POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  const eps = endpoints(ns, k.endpoints);
  const sliceCount = Math.ceil(k.endpoints / SLICE_MAX);
  const sliceOf = (s: number) => eps.slice(s * SLICE_MAX, (s + 1) * SLICE_MAX);
  const sliceName = (s: number) => `reranker-${String(s).padStart(3, '0')}`;
  await api(c, 'POST', `/api/v1/namespaces/${ns}/services`, {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'reranker', namespace: ns },
    spec: { ports: [{ name: 'http', port: 80, targetPort: 8080 }] },
  });
  const labels = {
    'kubernetes.io/service-name': 'reranker',
    'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io',
  };
  for (let s = 0; s < sliceCount; s += 16) {
    await Promise.all(
      Array.from({ length: Math.min(16, sliceCount - s) }, (_, j) =>
        api(c, 'POST', `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices`, {
          apiVersion: 'discovery.k8s.io/v1',
          kind: 'EndpointSlice',
          metadata: { name: sliceName(s + j), namespace: ns, labels },
          addressType: 'IPv4',
          ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
          endpoints: sliceOf(s + j),
        }),
      ),
    );
  }
  let operator: Proc | undefined;
  let watchPath: string;
  let objectBytes: number;
  let refused: string | undefined;
  if (k.design === 'configmap') {
    await api(c, 'POST', `/apis/reranker.dev/v1alpha1/namespaces/${ns}/rerankerpools`, {
      apiVersion: 'reranker.dev/v1alpha1',
      kind: 'RerankerPool',
      metadata: { name: 'pool', namespace: ns },
      spec: { discovery: [{ service: 'reranker', portName: 'http', apiFormat: 'tei' }] },
    });
    operator = startProcess(`operator-${ns}`, join(ROOT, 'operator/main.ts'), {
      KUBECONFIG: cluster.kubeconfig(ADMIN),
      POD_NAMESPACE: ns,
      WATCH_NAMESPACE: ns,
      LEADER_ELECT: 'false',
      OPERATOR_PORT: String(await freePort()),
      OPERATOR_HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      NODE_OPTIONS: args['node-options']!,
    });
    const cmPath = `/api/v1/namespaces/${ns}/configmaps/pool-reranker-config`;
    try {
      await until(
        'the ConfigMap to render',
        async () =>
          (await api<{ data?: Record<string, string> }>(c, 'GET', cmPath).catch(() => undefined))?.data !== undefined,
        60_000,
      );
    } catch {
      const pool = await api<{ status?: { conditions?: { type: string; reason?: string; message?: string }[] } }>(
        c,
        'GET',
        `/apis/reranker.dev/v1alpha1/namespaces/${ns}/rerankerpools/pool`,
      );
      refused = JSON.stringify(pool.status?.conditions?.find((x) => x.type === 'ConfigRendered') ?? 'no status');
    }
    // Let the operator's renders of the initial slices settle, then watch from now on.
    await new Promise((r) => setTimeout(r, 2000));
    const cm =
      refused === undefined ? await api<{ metadata: { resourceVersion: string } }>(c, 'GET', cmPath) : undefined;
    objectBytes = cm === undefined ? 0 : JSON.stringify(cm).length;
    watchPath = `/api/v1/namespaces/${ns}/configmaps?watch=true&fieldSelector=metadata.name%3Dpool-reranker-config&allowWatchBookmarks=true&timeoutSeconds=3600&resourceVersion=${cm?.metadata.resourceVersion}`;
  } else {
    const list = await api<{ items: unknown[]; metadata: { resourceVersion: string } }>(
      c,
      'GET',
      `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices?labelSelector=kubernetes.io%2Fservice-name%3Dreranker`,
    );
    objectBytes = Math.max(...list.items.map((i) => JSON.stringify(i).length));
    // From the list's resourceVersion, as an informer's watch after its list: changes only.
    watchPath = `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices?watch=true&labelSelector=kubernetes.io%2Fservice-name%3Dreranker&allowWatchBookmarks=true&timeoutSeconds=3600&resourceVersion=${list.metadata.resourceVersion}`;
  }
  if (refused !== undefined) {
    await operator?.stop('SIGKILL');
    console.error(`${k.design} ${k.endpoints}: not rendered: ${refused}`);
    return { ...k, served: false, refused };
  }

  // Watchers open in batches (TLS handshakes), then the initial ADDED events are not counted.
  const watchers: ReturnType<typeof countingWatch>[] = [];
  for (let i = 0; i < k.watchers; i += 50) {
    for (let j = i; j < Math.min(k.watchers, i + 50); j++)
      watchers.push(countingWatch(c, watchPath, k.design === 'slices-pb'));
    await new Promise((r) => setTimeout(r, 100));
  }
  await until(
    'every watcher to be connected',
    async () => watchers.every((w) => w.counts.connected || w.counts.error !== undefined),
    120_000,
  );
  const failedToConnect = watchers.filter((w) => w.counts.error !== undefined).map((w) => w.counts.error);
  if (failedToConnect.length > 0) throw new Error(`${failedToConnect.length} watchers failed: ${failedToConnect[0]}`);
  await new Promise((r) => setTimeout(r, 1000));
  const startBytes = watchers.map((w) => w.counts.bytes);
  const startEvents = watchers.map((w) => w.counts.events);
  const resource = k.design === 'configmap' ? 'configmaps' : 'endpointslices';
  const sizesBefore = await watchEventSizes(c, resource);

  // Churn: `rate` endpoint changes per second, each flipping one endpoint's readiness and
  // rewriting only its slice (as the endpointslice controller does).
  const churnStart = Date.now();
  const total = k.rate * k.seconds;
  let sent = 0;
  let failed = 0;
  const inFlight: Promise<unknown>[] = [];
  while (sent < total) {
    const due = churnStart + (sent * 1000) / k.rate;
    if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
    const e = (sent * 7919) % k.endpoints;
    const ep = eps[e]!;
    ep.conditions.ready = !ep.conditions.ready;
    ep.conditions.serving = ep.conditions.ready;
    const s = Math.floor(e / SLICE_MAX);
    sent++;
    inFlight.push(
      api(
        w,
        'PATCH',
        `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices/${sliceName(s)}`,
        { endpoints: sliceOf(s) },
        'application/merge-patch+json',
      ).catch(() => failed++),
    );
  }
  await Promise.all(inFlight);
  const churnMs = Date.now() - churnStart;
  // Let the last events arrive (the operator coalesces 100 ms; slow watchers drain).
  let last = -1;
  for (let i = 0; i < 30; i++) {
    await new Promise((r) => setTimeout(r, 1000));
    const now = watchers.reduce((n, w) => n + w.counts.bytes, 0);
    if (now === last) break;
    last = now;
  }
  const sizesAfter = await watchEventSizes(c, resource);
  const bytes = watchers.map((w, i) => w.counts.bytes - startBytes[i]!);
  const events = watchers.map((w, i) => w.counts.events - startEvents[i]!);
  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
  const alive = watchers.filter((w) => !w.counts.ended && w.counts.error === undefined).length;
  const endings = [
    ...new Set(
      watchers
        .map((w) => w.counts.error ?? (w.counts.ended ? 'closed by the apiserver' : undefined))
        .filter((e) => e !== undefined),
    ),
  ].slice(0, 3);
  await Promise.all(watchers.map((w) => w.stop()));
  await operator?.stop('SIGKILL');
  const result = {
    design: k.design,
    endpoints: k.endpoints,
    slices: sliceCount,
    served: true,
    watchers: k.watchers,
    watchersAliveAtEnd: alive,
    ...(endings.length === 0 ? {} : { watchersEnded: endings }),
    churn: {
      rate: k.rate,
      seconds: k.seconds,
      sent,
      failed,
      achievedRate: Math.round((sent / (churnMs / 1000)) * 10) / 10,
    },
    largestObjectBytes: objectBytes,
    eventsPerWatcher: Math.round((sum(events) / k.watchers) * 10) / 10,
    bytesPerWatcher: Math.round(sum(bytes) / k.watchers),
    bytesPerChangePerWatcher: Math.round(sum(bytes) / k.watchers / Math.max(1, sent - failed)),
    bytesPerEventPerWatcher: Math.round(sum(bytes) / Math.max(1, sum(events))),
    watcherBytesPerSecond: Math.round(sum(bytes) / (churnMs / 1000)),
    apiserverWatchEvents: sizesAfter.count - sizesBefore.count,
    apiserverAvgEventBytes: Math.round(
      (sizesAfter.sum - sizesBefore.sum) / Math.max(1, sizesAfter.count - sizesBefore.count),
    ),
  };
  console.error(JSON.stringify(result));
  return result;
}

async function main(): Promise<void> {
  const cluster = new Cluster([]);
  await cluster.start();
  const c: ApiClient = {
    url: cluster.url,
    token: ADMIN.token,
    agent: new Agent({ connect: { rejectUnauthorized: false }, connections: 2000, pipelining: 0 }),
  };
  // Writes on keep-alive connections of their own (the watchers' agent opens one per request).
  const writer: ApiClient = { ...c, agent: new Agent({ connect: { rejectUnauthorized: false }, connections: 16 }) };
  const monitor = processMonitor(cluster.apiserverPid);
  const results: Record<string, unknown>[] = [];
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
    const cases = args.cases!.split(',').map(parseCase);
    for (const [i, k] of cases.entries()) {
      const from = Date.now();
      const r = await runCase(cluster, c, writer, k, i);
      const used = monitor.between(from, Date.now());
      results.push({
        ...r,
        apiserverCores: Math.round(used.cores * 100) / 100,
        apiserverPeakRssMiB: Math.round(used.peakRssBytes / 2 ** 20),
      });
    }
    const out = {
      kind: 'fleet watch bytes',
      note: 'bytes are watch-body bytes received (JSON, or protobuf for slices-pb; HTTP chunking and TLS not counted)',
      results,
    };
    mkdirSync(dirname(args.out!), { recursive: true });
    writeFileSync(args.out!, JSON.stringify(out, null, 2) + '\n');
    console.log(JSON.stringify(out, null, 2));
  } finally {
    monitor.stop();
    await c.agent.close();
    await writer.agent.close();
    await cluster.stop();
  }
}

await main();
