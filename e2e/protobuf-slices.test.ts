/**
 * EndpointSlices in protobuf from the real kube-apiserver, through our informer and the sidecar's
 * slice watch: what they hold equals what the same list+watch in JSON gives (addresses,
 * conditions ready/serving/terminating, targetRef name, ports, labels, resourceVersions) after a
 * list, ADDED, MODIFIED and DELETED events; a BOOKMARK advances the resourceVersion; and a
 * resource that has no protobuf (a custom resource) is answered, and read, as JSON.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { systemClock, systemTimers } from '../common/clock.ts';
import { createLogger } from '../common/logger.ts';
import { KubeApi, type KubeObject, type ObjectDecoder, type WatchEvent } from '../kube/api.ts';
import { Informer, type ListWatchApi } from '../kube/informer.ts';
import { loadKubeConnection } from '../kube/kubeconfig.ts';
import { decodeEndpointSlice } from '../kube/protobuf/endpoint-slice.ts';
import { type Slice, SliceWatch, slimSlice } from '../sidecar/discovery/slice-watch.ts';
import { Cluster, ROOT } from './support/cluster.ts';
import { eventually } from './support/processes.ts';

const NS = 'pbslices';
const PATH = `/apis/discovery.k8s.io/v1/namespaces/${NS}/endpointslices`;
const SELECTOR = 'kubernetes.io/service-name in (tei)';

let cluster: Cluster;
let api: KubeApi;
const stops: (() => void)[] = [];

before(async () => {
  cluster = new Cluster([]);
  await cluster.start();
  cluster.kubectl(['create', 'namespace', NS]);
  cluster.kubectl(['apply', '-f', `${ROOT}/crds/`]);
  api = new KubeApi(loadKubeConnection({ KUBECONFIG: cluster.kubeconfig() }));
});

after(async () => {
  for (const stop of stops) stop();
  await cluster?.stop();
});

/** As the endpointslice controller writes them: uid, nodeName, zone, hostname, all three conditions. */
function slice(
  name: string,
  service: string,
  endpoints: unknown[],
  ports: unknown[] = [{ name: 'http', port: 8080, protocol: 'TCP' }],
) {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name,
      namespace: NS,
      labels: { 'kubernetes.io/service-name': service, 'endpointslice.kubernetes.io/managed-by': 'e2e' },
    },
    addressType: 'IPv4',
    ports,
    endpoints,
  };
}

function pod(i: number, conditions: Record<string, boolean>, withRef = true) {
  return {
    addresses: [`198.18.${Number(process.env.RRLB_E2E_NET ?? 0) % 250}.${i + 1}`],
    conditions,
    nodeName: `node-${i % 3}`,
    zone: `zone-${'abc'[i % 3]}`,
    ...(withRef ? { targetRef: { kind: 'Pod', namespace: NS, name: `tei-${i}`, uid: `uid-${i}` } } : {}),
  };
}

/**
 * Observes what the informer is given (the real API's answers): its watch events, and how many
 * objects (bookmarks apart) were decoded from protobuf by the decoder it passed.
 */
function observed(): { api: ListWatchApi; decoded: () => number; events: WatchEvent[] } {
  let decoded = 0;
  const events: WatchEvent[] = [];
  const counting = <T extends { metadata: { name: string } }>(decode: ObjectDecoder<T> | undefined) =>
    decode &&
    ((message: Uint8Array) => {
      const object = decode(message);
      if (object.metadata.name !== '') decoded++;
      return object;
    });
  const wrapped: ListWatchApi = {
    list: (path, query, options) => api.list(path, query, { ...options, protobuf: counting(options?.protobuf) }),
    async *watch(path, query, signal, options) {
      const protobuf = counting(options?.protobuf as ObjectDecoder<KubeObject> | undefined);
      for await (const event of api.watch(path, query, signal, { protobuf })) {
        events.push(event);
        yield event;
      }
    },
  };
  return { api: wrapped, decoded: () => decoded, events };
}

function informer(source: ListWatchApi, protobuf: boolean, watchTimeoutSeconds?: number): Informer<Slice> {
  const inf = new Informer<Slice>(source, {
    name: protobuf ? 'slices-protobuf' : 'slices-json',
    path: PATH,
    labelSelector: SELECTOR,
    transform: slimSlice,
    ...(protobuf ? { protobuf: decodeEndpointSlice } : {}),
    watchTimeoutSeconds,
    onEvent: () => {},
    logger: createLogger('silent'),
    timers: systemTimers,
    clock: systemClock,
    random: Math.random,
  });
  stops.push(() => inf.stop());
  inf.start();
  return inf;
}

const byName = (slices: readonly KubeObject[]) =>
  [...slices].sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));

test('protobuf slices equal the JSON ones through list, ADDED, MODIFIED, DELETED and BOOKMARK; the sidecar watch holds them', async () => {
  const create = (s: unknown) => api.request('POST', PATH, { body: s });
  await create(
    slice(
      'tei-a',
      'tei',
      Array.from({ length: 100 }, (_, i) =>
        pod(i, { ready: i % 4 !== 0, serving: i % 4 !== 0, terminating: i % 7 === 0 }),
      ),
    ),
  );
  await create(
    slice(
      'tei-b',
      'tei',
      [pod(100, { ready: false, serving: true, terminating: true }), pod(101, {}, false), pod(102, { ready: true })],
      [
        { name: 'http', port: 8080, protocol: 'TCP' },
        { name: 'metrics', port: 9090, protocol: 'TCP' },
      ],
    ),
  );
  await create(slice('other-a', 'other', [pod(103, { ready: true })]));

  const pb = observed();
  const json = observed();
  const viaProtobuf = informer(pb.api, true, 5);
  const viaJson = informer(json.api, false);
  const changes: number[] = [];
  const sidecar = new SliceWatch({
    api,
    namespace: NS,
    logger: createLogger('silent'),
    timers: systemTimers,
    clock: systemClock,
    random: Math.random,
    onChange: () => changes.push(Date.now()),
  });
  stops.push(() => sidecar.stop());
  sidecar.follow(['tei']);
  await Promise.all([viaProtobuf.waitForSync(), viaJson.waitForSync()]);

  assert.equal(pb.decoded(), 2, 'both slices of the list were decoded from protobuf');
  assert.equal(json.decoded(), 0, 'the JSON informer never asked for protobuf');
  const listed = byName(viaProtobuf.list());
  assert.deepEqual(listed, byName(viaJson.list()));
  assert.equal(listed.length, 2);
  const a = listed[0] as Slice;
  assert.equal(a.endpoints!.length, 100);
  assert.deepEqual(a.endpoints![7], {
    addresses: [pod(7, {}).addresses[0]],
    conditions: { ready: true, serving: true, terminating: true },
    targetRef: { name: 'tei-7' },
  });
  assert.deepEqual((listed[1] as Slice).endpoints![1], {
    addresses: [pod(101, {}).addresses[0]],
    conditions: {},
    targetRef: undefined,
  });
  assert.deepEqual((listed[1] as Slice).ports, [
    { name: 'http', port: 8080 },
    { name: 'metrics', port: 9090 },
  ]);
  await eventually(() => sidecar.report().synced && sidecar.slices().length === 2, 10_000, 'the sidecar watch to list');
  assert.deepEqual(byName(sidecar.slices() as Slice[]), listed);

  // MODIFIED (a flip to terminating), DELETED, ADDED: both informers see the same, from their watches.
  await api.mergePatch(`${PATH}/tei-b`, {
    endpoints: [pod(100, { ready: false, serving: false, terminating: true }), pod(102, { ready: true })],
  });
  await api.request('DELETE', `${PATH}/tei-a`);
  await create(slice('tei-c', 'tei', [pod(104, { ready: true, serving: true, terminating: false })]));
  const converged = () => {
    const got = byName(viaProtobuf.list());
    return (
      got.length === 2 &&
      got[1]!.metadata.name === 'tei-c' &&
      JSON.stringify(got) === JSON.stringify(byName(viaJson.list()))
    );
  };
  await eventually(converged, 10_000, 'the protobuf and JSON informers to see the watch events alike');
  assert.deepEqual(
    pb.events.filter((e) => e.type !== 'BOOKMARK').map((e) => `${e.type} ${(e.object as Slice).metadata.name}`),
    ['MODIFIED tei-b', 'DELETED tei-a', 'ADDED tei-c'],
  );
  assert.deepEqual((viaProtobuf.store.get(`${NS}/tei-b`) as Slice).endpoints, [
    {
      addresses: [pod(100, {}).addresses[0]],
      conditions: { ready: false, serving: false, terminating: true },
      targetRef: { name: 'tei-100' },
    },
    { addresses: [pod(102, {}).addresses[0]], conditions: { ready: true }, targetRef: { name: 'tei-102' } },
  ]);
  assert.equal(pb.decoded(), 5, 'three watch events decoded from protobuf');
  await eventually(
    () => JSON.stringify(byName(sidecar.slices() as Slice[])) === JSON.stringify(byName(viaJson.list())),
    10_000,
    'the sidecar watch to merge the same slices',
  );

  // A slice of another Service moves the resourceVersion on; the protobuf watch (5 s timeout)
  // hears of it only through the bookmark the apiserver sends before it ends the watch.
  const other = await create(slice('other-b', 'other', [pod(105, { ready: true })]));
  const otherRv = Number((other as KubeObject).metadata.resourceVersion);
  const bookmark = await eventually(
    () =>
      pb.events.find((e) => e.type === 'BOOKMARK' && Number((e.object as Slice).metadata.resourceVersion) >= otherRv),
    20_000,
    'a BOOKMARK at or past the unselected slice',
  );
  const rv = (bookmark.object as Slice).metadata.resourceVersion!;
  await eventually(
    () => Number(viaProtobuf.resourceVersion) >= Number(rv),
    10_000,
    'the informer to take the bookmark',
  );
  assert.equal(viaProtobuf.restarts, 0, 'no failure: every protobuf frame decoded');
  assert.equal(viaProtobuf.store.has(`${NS}/other-b`), false);
});

test('a custom resource (no protobuf on the server) asked for in protobuf is answered, and read, as JSON', async () => {
  cluster.kubectl(['wait', '--for=condition=Established', 'crd/rerankerpools.reranker.dev', '--timeout=60s']);
  cluster.apply({
    apiVersion: 'reranker.dev/v1alpha1',
    kind: 'RerankerPool',
    metadata: { name: 'pool', namespace: NS },
    spec: { discovery: [{ service: 'tei', portName: 'http', apiFormat: 'tei' }] },
  });
  let decoded = 0;
  const listed = await api.list(
    `/apis/reranker.dev/v1alpha1/namespaces/${NS}/rerankerpools`,
    {},
    {
      protobuf: () => {
        decoded++;
        return { metadata: { name: 'never' } };
      },
    },
  );
  assert.deepEqual(
    listed.items.map((p) => p.metadata.name),
    ['pool'],
  );
  assert.equal(decoded, 0);
});
