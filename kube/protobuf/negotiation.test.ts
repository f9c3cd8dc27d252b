/**
 * KubeApi's opt-in protobuf against a local server standing in for the apiserver (answers
 * replayed from testdata/, captured from kube-apiserver 1.34): protobuf is asked for only when a
 * decoder is given, the answer's Content-Type decides how it is read (a server that answers JSON
 * is read as JSON), and a protobuf Status error body gives the code and reason the reflector
 * acts on (410 Expired -> a consistent re-list).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { after, before, test } from 'node:test';
import { Agent } from 'undici';
import { pb } from '../../test/support/protobuf-encode.ts';
import { KubeApi, KubeApiError, type WatchEvent } from '../api.ts';
import { decodeEndpointSlice } from './endpoint-slice.ts';

const captured = (name: string) => readFileSync(new URL(`testdata/${name}`, import.meta.url));
const PROTOBUF = 'application/vnd.kubernetes.protobuf';

let server: Server;
let api: KubeApi;
const accepts: string[] = [];
const agent = new Agent();

/** A 410 Status in protobuf, as the apiserver sends it for an expired continue token. */
const EXPIRED = Buffer.from([
  0x6b,
  0x38,
  0x73,
  0,
  ...pb.bytes(1, [...pb.string(1, 'v1'), ...pb.string(2, 'Status')]),
  ...pb.bytes(2, [...pb.string(3, 'the continue token expired'), ...pb.string(4, 'Expired'), ...pb.int(6, 410)]),
]);

before(async () => {
  server = createServer((req, res) => {
    const url = new URL(req.url!, 'http://x');
    accepts.push(req.headers.accept ?? '');
    const wantsProtobuf = req.headers.accept?.startsWith(PROTOBUF) === true;
    if (url.pathname.endsWith('/expired')) {
      res.writeHead(410, { 'content-type': PROTOBUF }).end(EXPIRED);
    } else if (url.pathname.includes('/json-only/')) {
      // An aggregated API or a proxy that has no protobuf answers JSON whatever was asked.
      const slice = { metadata: { name: 'j', resourceVersion: '5' }, endpoints: [{ addresses: ['198.18.0.9'] }] };
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        url.searchParams.get('watch') === 'true'
          ? `${JSON.stringify({ type: 'MODIFIED', object: slice })}\n`
          : JSON.stringify({ metadata: { resourceVersion: '5' }, items: [slice] }),
      );
    } else if (url.searchParams.get('watch') === 'true') {
      res.writeHead(200, { 'content-type': `${PROTOBUF};stream=watch` }).end(captured('endpointslice-watch.bin'));
    } else if (wantsProtobuf) {
      res.writeHead(200, { 'content-type': PROTOBUF }).end(captured('endpointslice-list.bin'));
    } else {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ metadata: {}, items: [] }));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  api = new KubeApi({ server: base, dispatcher: agent, authorization: () => undefined });
});

after(async () => {
  await new Promise((resolve) => server.close(resolve));
  await agent.close();
});

async function collect(events: AsyncIterable<WatchEvent>): Promise<string[]> {
  const out: string[] = [];
  for await (const e of events) out.push(`${e.type} ${(e.object as { metadata: { name: string } }).metadata.name}`);
  return out;
}

test('protobuf only when asked for: a list and a watch decoded from protobuf; JSON otherwise', async () => {
  accepts.length = 0;
  const listed = await api.list('/apis/discovery.k8s.io/v1/endpointslices', {}, { protobuf: decodeEndpointSlice });
  assert.deepEqual(
    listed.items.map((s) => s.metadata.name),
    ['a'],
  );
  assert.equal(listed.resourceVersion, '199');
  const events = await collect(
    api.watch('/apis/discovery.k8s.io/v1/endpointslices', {}, new AbortController().signal, {
      protobuf: decodeEndpointSlice,
    }),
  );
  assert.deepEqual(events, ['ADDED b', 'MODIFIED a', 'DELETED b']);
  await api.list('/apis/discovery.k8s.io/v1/endpointslices');
  assert.deepEqual(accepts, [`${PROTOBUF}, application/json`, `${PROTOBUF}, application/json`, 'application/json']);
});

test('a server that answers JSON to a protobuf request is read as JSON (list and watch)', async () => {
  const path = '/apis/discovery.k8s.io/v1/json-only/endpointslices';
  const listed = await api.list(path, {}, { protobuf: decodeEndpointSlice });
  assert.deepEqual(listed.items, [
    { metadata: { name: 'j', resourceVersion: '5' }, endpoints: [{ addresses: ['198.18.0.9'] }] },
  ]);
  const events = await collect(api.watch(path, {}, new AbortController().signal, { protobuf: decodeEndpointSlice }));
  assert.deepEqual(events, ['MODIFIED j']);
});

test('a protobuf Status error body: the KubeApiError has its code, reason and message', async () => {
  const path = '/apis/discovery.k8s.io/v1/expired';
  for (const call of [
    () => api.list(path, { continue: 'old' }, { protobuf: decodeEndpointSlice }),
    () => collect(api.watch(path, {}, new AbortController().signal, { protobuf: decodeEndpointSlice })),
  ])
    await assert.rejects(call, (e) => {
      assert.ok(e instanceof KubeApiError);
      assert.equal(e.status, 410);
      assert.equal(e.reason, 'Expired');
      assert.match(e.message, /the continue token expired/);
      return true;
    });
});
