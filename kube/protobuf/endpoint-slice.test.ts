/**
 * Decoding bytes captured from kube-apiserver 1.34 (testdata/, the slices of e2e/protobuf-slices
 * .test.ts's kind): a protobuf list of EndpointSlices, a protobuf watch (ADDED, MODIFIED,
 * DELETED) read in chunks cut at every byte, and a Status error body; an ERROR event carries the
 * Status code and reason the reflector's 410 handling reads.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { pb } from '../../test/support/protobuf-encode.ts';
import { decodeEndpointSlice } from './endpoint-slice.ts';
import { decodeList, decodeWatchEvent, statusOfBody } from './envelope.ts';
import { readWatchFrames } from './watch-frames.ts';
import { ProtobufError } from './wire.ts';

const captured = (name: string) => new Uint8Array(readFileSync(new URL(`testdata/${name}`, import.meta.url)));

/** Slice "a" as it was listed (JSON of the same list, what slimSlice keeps): a ready and a not-ready endpoint. */
const SLICE_A = {
  metadata: {
    name: 'a',
    namespace: 'pb',
    resourceVersion: '199',
    labels: { 'kubernetes.io/service-name': 'tei', x: 'y' },
  },
  addressType: 'IPv4',
  ports: [{ name: 'http', port: 8080 }],
  endpoints: [
    {
      addresses: ['198.18.31.2'],
      conditions: { ready: true, serving: true, terminating: false },
      targetRef: { name: 'pod-a' },
    },
    // As in the JSON: only the condition the writer set, and no targetRef.
    { addresses: ['198.18.31.3'], conditions: { ready: false } },
  ],
};

test('a protobuf list: its slices as the JSON list gives them, and its resourceVersion', () => {
  const list = decodeList(captured('endpointslice-list.bin'), decodeEndpointSlice);
  assert.deepEqual(list, { items: [SLICE_A], resourceVersion: '199', continue: undefined });
});

async function* chunks(bytes: Uint8Array, cut: number) {
  yield bytes.subarray(0, cut);
  yield bytes.subarray(cut);
}

test('a protobuf watch, in chunks cut at any byte: ADDED, MODIFIED (now terminating), DELETED', async () => {
  const stream = captured('endpointslice-watch.bin');
  const expected = [
    { type: 'ADDED', name: 'b', rv: '200', endpoints: SLICE_A.endpoints },
    {
      type: 'MODIFIED',
      name: 'a',
      rv: '201',
      endpoints: [{ addresses: ['198.18.31.9'], conditions: { ready: false, serving: true, terminating: true } }],
    },
    { type: 'DELETED', name: 'b', rv: '202', endpoints: SLICE_A.endpoints },
  ];
  for (let cut = 0; cut <= stream.length; cut += 7) {
    const seen = [];
    for await (const frame of readWatchFrames(chunks(stream, cut), 1 << 20)) {
      const { type, object } = decodeWatchEvent(frame, decodeEndpointSlice);
      const slice = object as ReturnType<typeof decodeEndpointSlice>;
      seen.push({ type, name: slice.metadata.name, rv: slice.metadata.resourceVersion, endpoints: slice.endpoints });
    }
    assert.deepEqual(seen, expected, `cut at ${cut}`);
  }
});

test('a watch stream that ends inside a frame, or announces a frame over the bound, is an error', async () => {
  const stream = captured('endpointslice-watch.bin');
  const read = async (bytes: Uint8Array, max: number) => {
    for await (const _ of readWatchFrames(chunks(bytes, 3), max));
  };
  await assert.rejects(read(stream.subarray(0, stream.length - 5), 1 << 20), (e) => {
    assert.ok(!(e instanceof ProtobufError), 'a cut stream, not undecodable bytes');
    assert.match((e as Error).message, /ended inside a frame/);
    return true;
  });
  await assert.rejects(read(stream, 100), /watch frame of 472 bytes, over 100/);
});

test("a Status body (400) and an ERROR event's Status (410 Expired): code, reason, message, retryAfterSeconds", () => {
  assert.deepEqual(statusOfBody(captured('status-400.bin')), {
    kind: 'Status',
    code: 400,
    reason: 'BadRequest',
    message: String.raw`invalid continue token: continue key is not valid: invalid character '\u0081' looking for beginning of value`,
  });
  const status = [
    ...pb.string(3, 'too old resource version: 1 (200)'),
    ...pb.string(4, 'Expired'),
    ...pb.bytes(5, pb.int(5, 2)),
    ...pb.int(6, 410),
  ];
  const envelope = [
    0x6b,
    0x38,
    0x73,
    0,
    ...pb.bytes(1, [...pb.string(1, 'v1'), ...pb.string(2, 'Status')]),
    ...pb.bytes(2, status),
  ];
  const frame = Uint8Array.from([...pb.string(1, 'ERROR'), ...pb.bytes(2, pb.bytes(1, envelope))]);
  assert.deepEqual(decodeWatchEvent(frame, decodeEndpointSlice), {
    type: 'ERROR',
    object: {
      kind: 'Status',
      code: 410,
      reason: 'Expired',
      message: 'too old resource version: 1 (200)',
      details: { retryAfterSeconds: 2 },
    },
  });
  assert.equal(statusOfBody(new TextEncoder().encode('<html>bad gateway</html>')), undefined);
});
