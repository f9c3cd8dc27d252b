/**
 * The CPU of reading one EndpointSlice watch event, as a sidecar does on every endpoint change:
 * JSON.parse + slimSlice (the JSON path) against decodeEndpointSlice + slimSlice (protobuf), on
 * the same slice of 100 endpoints with the fields the endpointslice controller writes (targetRef
 * with uid, nodeName, zone, managedFields), alternated in rounds so both see the same machine.
 * The protobuf bytes are encoded here field by field as kube-apiserver encodes them (the
 * envelope and field order of testdata/endpointslice-watch.bin, captured from 1.34).
 *
 *   node bench/slice-decode.ts [--rounds 20] [--per-round 200]
 */
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { decodeEndpointSlice } from '../kube/protobuf/endpoint-slice.ts';
import { decodeWatchEvent } from '../kube/protobuf/envelope.ts';
import { type Slice, slimSlice } from '../sidecar/discovery/slice-watch.ts';
import { pb } from '../test/support/protobuf-encode.ts';

const { values } = parseArgs({
  options: { rounds: { type: 'string', default: '20' }, 'per-round': { type: 'string', default: '200' } },
});

const FIELDS_V1 =
  '{"f:addressType":{},"f:endpoints":{},"f:metadata":{"f:labels":{".":{},"f:endpointslice.kubernetes.io/managed-by":{},"f:kubernetes.io/service-name":{}}},"f:ports":{}}';
const endpoints = Array.from({ length: 100 }, (_, e) => ({
  addresses: [`198.18.${Math.floor(e / 250)}.${(e % 250) + 1}`],
  conditions: { ready: true, serving: true, terminating: false },
  nodeName: `node-${String(e % 500).padStart(4, '0')}`,
  zone: `zone-${'abc'[e % 3]}`,
  targetRef: {
    kind: 'Pod',
    namespace: 'app',
    name: `reranker-7d9f8b6c4d-${String(e).padStart(5, '0')}`,
    uid: randomUUID(),
  },
}));
const labels = {
  'kubernetes.io/service-name': 'reranker',
  'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io',
};
const meta = { name: 'reranker-000', namespace: 'app', uid: randomUUID(), resourceVersion: '123456', generation: 7 };
const json = JSON.stringify({
  type: 'MODIFIED',
  object: {
    kind: 'EndpointSlice',
    apiVersion: 'discovery.k8s.io/v1',
    metadata: {
      ...meta,
      creationTimestamp: '2026-12-03T10:00:00Z',
      labels,
      managedFields: [
        {
          manager: 'kube-controller-manager',
          operation: 'Update',
          apiVersion: 'discovery.k8s.io/v1',
          time: '2026-12-03T10:00:00Z',
          fieldsType: 'FieldsV1',
          fieldsV1: JSON.parse(FIELDS_V1),
        },
      ],
    },
    addressType: 'IPv4',
    endpoints,
    ports: [{ name: 'http', protocol: 'TCP', port: 8080 }],
  },
});

const time = [...pb.int(1, 1796294041), ...pb.int(2, 0)];
const metadata = [
  ...pb.string(1, meta.name),
  ...pb.string(2, ''),
  ...pb.string(3, meta.namespace),
  ...pb.string(4, ''),
  ...pb.string(5, meta.uid),
  ...pb.string(6, meta.resourceVersion),
  ...pb.int(7, meta.generation),
  ...pb.bytes(8, time),
  ...Object.entries(labels).flatMap(([k, v]) => pb.bytes(11, [...pb.string(1, k), ...pb.string(2, v)])),
  ...pb.bytes(17, [
    ...pb.string(1, 'kube-controller-manager'),
    ...pb.string(2, 'Update'),
    ...pb.string(3, 'discovery.k8s.io/v1'),
    ...pb.bytes(4, time),
    ...pb.string(6, 'FieldsV1'),
    ...pb.bytes(7, pb.string(1, FIELDS_V1)),
    ...pb.string(8, ''),
  ]),
];
const sliceMessage = [
  ...pb.bytes(1, metadata),
  ...endpoints.flatMap((e) =>
    pb.bytes(2, [
      ...pb.string(1, e.addresses[0]!),
      ...pb.bytes(2, [...pb.int(1, 1), ...pb.int(2, 1), ...pb.int(3, 0)]),
      ...pb.bytes(4, [
        ...pb.string(1, e.targetRef.kind),
        ...pb.string(2, e.targetRef.namespace),
        ...pb.string(3, e.targetRef.name),
        ...pb.string(4, e.targetRef.uid),
        ...pb.string(5, ''),
        ...pb.string(6, ''),
        ...pb.string(7, ''),
      ]),
      ...pb.string(6, e.nodeName),
      ...pb.string(7, e.zone),
    ]),
  ),
  ...pb.bytes(3, [...pb.string(1, 'http'), ...pb.string(2, 'TCP'), ...pb.int(3, 8080)]),
  ...pb.string(4, 'IPv4'),
];
const envelope = [
  0x6b,
  0x38,
  0x73,
  0,
  ...pb.bytes(1, [...pb.string(1, 'discovery.k8s.io/v1'), ...pb.string(2, 'EndpointSlice')]),
  ...pb.bytes(2, sliceMessage),
  ...pb.string(3, ''),
  ...pb.string(4, ''),
];
const frame = Uint8Array.from([...pb.string(1, 'MODIFIED'), ...pb.bytes(2, pb.bytes(1, envelope))]);

const viaJson = () => slimSlice((JSON.parse(json) as { object: Slice }).object);
const viaProtobuf = () => slimSlice(decodeWatchEvent(frame, decodeEndpointSlice).object as Slice);
if (JSON.stringify(viaJson()) !== JSON.stringify(viaProtobuf()))
  throw new Error('the two paths disagree: the bench would compare different work');

function run(fn: () => unknown, n: number): number {
  const started = process.hrtime.bigint();
  for (let i = 0; i < n; i++) fn();
  return Number(process.hrtime.bigint() - started) / 1000 / n; // µs per event
}

const perRound = Number(values['per-round']);
// Warm-up (JIT).
for (let i = 0; i < 3; i++) {
  run(viaJson, perRound);
  run(viaProtobuf, perRound);
}
const jsonUs: number[] = [];
const pbUs: number[] = [];
for (let r = 0; r < Number(values.rounds); r++) {
  jsonUs.push(run(viaJson, perRound));
  pbUs.push(run(viaProtobuf, perRound));
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const result = {
  kind: 'EndpointSlice watch event decode (100 endpoints), per event',
  bytes: { json: Buffer.byteLength(json), protobuf: frame.length },
  medianMicroseconds: { json: Math.round(median(jsonUs)), protobuf: Math.round(median(pbUs)) },
  protobufOverJson: Math.round((median(pbUs) / median(jsonUs)) * 100) / 100,
};
console.log(JSON.stringify(result, null, 2));
