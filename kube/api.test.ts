/**
 * The client's request observer against a local HTTP server standing in for the apiserver: every
 * request is reported once with its verb, plural, status code and time; a watch is counted when
 * it starts, without a duration; a request that gets no response counts as "error".
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, test } from 'node:test';
import { Agent } from 'undici';
import { manualTime } from '../test/support/manual-time.ts';
import { KubeApi, KubeApiError, type ApiRequest } from './api.ts';

let server: Server;
let base: string;
const agent = new Agent();
const time = manualTime();

before(async () => {
  server = createServer((req, res) => {
    const url = new URL(req.url!, 'http://x');
    if (url.pathname.endsWith('/html')) {
      res.writeHead(502, { 'content-type': 'text/html' }).end('<html><body>Bad gateway from a proxy</body></html>');
      return;
    }
    if (url.pathname.endsWith('/throttled')) {
      res
        .writeHead(429, { 'content-type': 'application/json', 'retry-after': '3' })
        .end(JSON.stringify({ kind: 'Status', reason: 'TooManyRequests', message: 'too many requests' }));
      return;
    }
    if (url.pathname.endsWith('/hang')) return; // never answers
    if (url.pathname.endsWith('/missing')) {
      res
        .writeHead(404, { 'content-type': 'application/json' })
        .end(JSON.stringify({ kind: 'Status', reason: 'NotFound', message: 'gone' }));
      return;
    }
    if (url.searchParams.get('watch') === 'true') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ type: 'ADDED', object: { metadata: { name: 'a', resourceVersion: '2' } } }) + '\n');
      return;
    }
    time.advance(250); // the "apiserver" takes a quarter of a second
    res
      .writeHead(200, { 'content-type': 'application/json' })
      .end(JSON.stringify({ metadata: { name: 'a', resourceVersion: '1' }, items: [] }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});

after(async () => {
  await new Promise((resolve) => server.close(resolve));
  await agent.close();
});

function client(server: string) {
  const seen: ApiRequest[] = [];
  const api = new KubeApi(
    { server, dispatcher: agent, authorization: () => undefined },
    { clock: time.clock, observer: { onRequest: (r) => seen.push(r) } },
  );
  return { api, seen };
}

test('each request is reported once: verb, plural, status code and seconds', async () => {
  const { api, seen } = client(base);
  await api.apply('/api/v1/namespaces/ns/configmaps/a', { metadata: { name: 'a' } }, 'test');
  await api.list('/apis/reranker.dev/v1alpha1/rerankerpools');
  assert.equal(await api.get('/api/v1/namespaces/ns/configmaps/missing'), undefined);
  await assert.rejects(
    api.mergePatch('/apis/reranker.dev/v1alpha1/namespaces/ns/rerankerpools/missing', {}),
    KubeApiError,
  );
  assert.deepEqual(seen, [
    { verb: 'apply', resource: 'configmaps', code: '200', seconds: 0.25 },
    { verb: 'list', resource: 'rerankerpools', code: '200', seconds: 0.25 },
    { verb: 'get', resource: 'configmaps', code: '404', seconds: 0 },
    { verb: 'patch', resource: 'rerankerpools', code: '404', seconds: 0 },
  ]);
});

test('a watch is counted when it starts, without a duration', async () => {
  const { api, seen } = client(base);
  const events = [];
  for await (const event of api.watch('/api/v1/configmaps', {}, AbortSignal.timeout(5000))) events.push(event);
  assert.equal(events.length, 1);
  assert.deepEqual(seen, [{ verb: 'watch', resource: 'configmaps', code: '200', seconds: undefined }]);
});

test('a request with no response counts as "error"', async () => {
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const port = (closed.address() as { port: number }).port;
  await new Promise((resolve) => closed.close(resolve));
  const { api, seen } = client(`http://127.0.0.1:${port}`);
  await assert.rejects(api.request('POST', '/api/v1/namespaces/ns/events', { body: {} }));
  await assert.rejects(async () => {
    for await (const _ of api.watch('/api/v1/pods', {}, AbortSignal.timeout(5000)));
  });
  assert.deepEqual(
    seen.map((r) => `${r.verb} ${r.resource} ${r.code}`),
    ['create events error', 'watch pods error'],
  );
});

test("a non-JSON error body (a proxy's HTML page) is a KubeApiError with the status, described, never quoted", async () => {
  const { api } = client(base);
  const error = await api.request('GET', '/api/v1/namespaces/ns/configmaps/html').catch((e: unknown) => e);
  assert.ok(error instanceof KubeApiError);
  assert.equal(error.status, 502);
  assert.match(error.message, /502 Bad Gateway \(a text\/html body of 50 bytes\)/);
  assert.doesNotMatch(error.message, /proxy/);
  await assert.rejects(
    async () => {
      for await (const _ of api.watch('/api/v1/html', {}, AbortSignal.timeout(5000)));
    },
    (e: unknown) => e instanceof KubeApiError && e.status === 502,
  );
});

test('429 carries its Retry-After in seconds', async () => {
  const { api } = client(base);
  const error = await api.get('/api/v1/namespaces/ns/configmaps/throttled').catch((e: unknown) => e);
  assert.ok(error instanceof KubeApiError);
  assert.deepEqual([error.status, error.reason, error.retryAfterSeconds], [429, 'TooManyRequests', 3]);
});

test('a bound client aborts its calls in flight when its lifetime ends, and refuses new ones', async () => {
  const { api } = client(base);
  const life = new AbortController();
  const bound = api.bound(life.signal);
  const pending = bound.get('/api/v1/namespaces/ns/configmaps/hang');
  setImmediate(() => life.abort(new Error('term over')));
  await assert.rejects(pending, /term over/);
  await assert.rejects(bound.get('/api/v1/namespaces/ns/configmaps/a'), /term over/);
  assert.equal(
    (await api.get<{ metadata: { name: string } }>('/api/v1/namespaces/ns/configmaps/a'))?.metadata.name,
    'a',
    'the unbound client still works',
  );
});
