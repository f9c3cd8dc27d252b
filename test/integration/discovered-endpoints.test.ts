/**
 * A sidecar that follows EndpointSlices itself (discovery templates): real fake rerankers on
 * loopback, a real sidecar, and slices this test hands it (what the slice watch would see).
 * Endpoint conditions are health; passive outlier detection ejects a backend that fails at connect.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, describe, test } from 'node:test';
import type { EndpointSlice } from '../../common/discovery/endpoint-slices.ts';
import { createLogger } from '../../common/logger.ts';
import { parseConfigText } from '../../sidecar/config/load.ts';
import type { EndpointEvents } from '../../sidecar/discovery/followed-endpoints.ts';
import { slicesDigest } from '../../sidecar/discovery/merge-endpoints.ts';
import { startSidecar, type RunningSidecar } from '../../sidecar/server/sidecar.ts';
import { startFakeReranker, type FakeReranker } from '../fake-reranker/fake-reranker.ts';
import { get, post, QUERY } from '../support/harness.ts';

type Conditions = { ready?: boolean; serving?: boolean; terminating?: boolean };

/** One slice per fake (each listens on its own port), all of Service "tei". */
function sliceOf(fake: FakeReranker, conditions: Conditions = { ready: true }, rv = '1'): EndpointSlice {
  return {
    metadata: { name: `tei-${fake.name}`, resourceVersion: rv, labels: { 'kubernetes.io/service-name': 'tei' } },
    addressType: 'IPv4',
    ports: [{ name: 'http', port: fake.port }],
    endpoints: [{ addresses: ['127.0.0.1'], conditions, targetRef: { kind: 'Pod', name: fake.name } }],
  };
}

interface World {
  readonly url: string;
  readonly fakes: Record<string, FakeReranker>;
  readonly sidecar: RunningSidecar;
  /** Hands the sidecar a new set of slices, as the watch would after coalescing. */
  see(slices: EndpointSlice[]): void;
  close(): Promise<void>;
}

const worlds: World[] = [];
after(() => Promise.all(worlds.map((w) => w.close())));

async function world(names: readonly string[], router: Record<string, unknown> = {}): Promise<World> {
  const fakes: Record<string, FakeReranker> = {};
  for (const name of names) fakes[name] = await startFakeReranker({ name });
  let slices: EndpointSlice[] = names.map((n) => sliceOf(fakes[n]!));
  let events: EndpointEvents | undefined;
  const text = JSON.stringify({
    model_list: [],
    discovery: [{ service: 'tei', port_name: 'http' }],
    // Global health checks on: discovered endpoints are still not checked (their readiness is their health).
    router_settings: { health_check_interval: 30, retry_delay: 0.01, fallback_to_local: false, ...router },
  });
  const quiet = new Writable({ write: (_c, _e, done) => done() });
  const sidecar = await startSidecar({
    config: parseConfigText(text, 'test', {}),
    enabled: true,
    logger: createLogger('warn', quiet),
    port: 0,
    endpoints(e) {
      events = e;
      return {
        follow: () => undefined,
        slices: () => slices,
        report: () => ({
          services: ['tei'],
          synced: true,
          slices: slices.length,
          digest: slicesDigest(['tei'], slices),
          restarts: 0,
        }),
        stop: () => undefined,
      };
    },
  });
  events!.changed(); // the first list
  const w: World = {
    url: sidecar.url,
    fakes,
    sidecar,
    see(next) {
      slices = next;
      events!.changed();
    },
    async close() {
      await sidecar.stop();
      await Promise.all(Object.values(fakes).map((f) => f.close()));
    },
  };
  worlds.push(w);
  return w;
}

async function calls(url: string, n: number): Promise<{ ok: number; by: Record<string, number> }> {
  const by: Record<string, number> = {};
  let ok = 0;
  for (let i = 0; i < n; i++) {
    const reply = await post(url, '/rerank', QUERY);
    if (reply.status === 200) ok++;
    const backend = reply.headers.get('x-reranker-lb-backend') ?? 'none';
    by[backend] = (by[backend] ?? 0) + 1;
  }
  return { ok, by };
}

describe('discovered endpoints', () => {
  test('ready endpoints take calls at once, without a health check of our own; a readiness flip changes the backends, not the config', async () => {
    const w = await world(['a', 'b']);
    const before = (await get(w.url, '/lb/config')).body;
    assert.equal((await get(w.url, '/ready')).status, 200);
    const first = await calls(w.url, 20);
    assert.equal(first.ok, 20);
    assert.ok(first.by['tei/a']! > 0 && first.by['tei/b']! > 0, JSON.stringify(first.by));
    assert.equal(w.fakes.a!.stats.healthChecks, 0, 'no active health check on a discovered endpoint');

    w.see([sliceOf(w.fakes.a!, { ready: true }), sliceOf(w.fakes.b!, { ready: false }, '2')]);
    const backends = (await get(w.url, '/lb/backends')).body.backends.map((b: any) => [b.name, b.endpoint]);
    assert.deepEqual(backends, [
      ['tei/a', 'ready'],
      ['tei/b', 'not-ready'],
    ]);
    const after = (await get(w.url, '/lb/config')).body;
    assert.equal(after.hash, before.hash, 'the settings hash stays');
    assert.notEqual(after.endpoints.digest, before.endpoints.digest, 'the endpoint digest follows the slices');
    assert.equal(after.endpoints.digest, slicesDigest(['tei'], [sliceOf(w.fakes.a!), sliceOf(w.fakes.b!, {}, '2')]));
    assert.deepEqual(
      (await calls(w.url, 10)).by,
      { 'tei/a': 10 },
      'a not-ready endpoint gets no call while a ready one can take it',
    );
    w.see([sliceOf(w.fakes.b!, { ready: false }, '2')]);
    assert.deepEqual(
      (await get(w.url, '/lb/backends')).body.backends.map((b: any) => b.name),
      ['tei/b'],
      'gone from the slices: gone from the backends',
    );
  });

  test('when no endpoint is ready, not-ready ones still take calls (panic routing: a probe that times out under load must not empty the pool)', async () => {
    const w = await world(['a', 'b']);
    w.see([sliceOf(w.fakes.a!, { ready: false }), sliceOf(w.fakes.b!, { ready: false })]);
    const result = await calls(w.url, 10);
    assert.equal(result.ok, 10, JSON.stringify(result.by));
    assert.equal((await get(w.url, '/ready')).status, 503, 'serving in panic, but not ready');
    w.see([sliceOf(w.fakes.a!), sliceOf(w.fakes.b!, { ready: false })]);
    assert.equal((await get(w.url, '/ready')).status, 200);
  });

  test('a serving, terminating endpoint takes no new calls while another can, and is the last resort when none can', async () => {
    const w = await world(['a', 'b']);
    w.see([sliceOf(w.fakes.a!), sliceOf(w.fakes.b!, { ready: false, serving: true, terminating: true })]);
    assert.deepEqual((await calls(w.url, 20)).by, { 'tei/a': 20 });
    w.see([
      sliceOf(w.fakes.a!, { ready: false }),
      sliceOf(w.fakes.b!, { ready: false, serving: true, terminating: true }),
    ]);
    assert.deepEqual(
      (await calls(w.url, 5)).by,
      { 'tei/b': 5 },
      'nothing ready is left: the serving one goes before the not-ready one',
    );
    w.see([]);
    const gone = await calls(w.url, 1);
    assert.equal(gone.ok, 0, 'no endpoint at all: the call is refused');
  });

  test('a backend that dies while still listed ready costs no failed call: failover, then it is ejected', async () => {
    const w = await world(['a', 'b', 'c']);
    await w.fakes.c!.close(); // force-killed: connections are refused, the slice still says ready
    const result = await calls(w.url, 60);
    assert.equal(result.ok, 60, JSON.stringify(result.by));
    const c = (await get(w.url, '/lb/backends')).body.backends.find((b: any) => b.name === 'tei/c');
    assert.ok(c.ejected_for_ms > 0, `tei/c is ejected: ${JSON.stringify(c)}`);
    assert.equal(c.ejections, 1);
    assert.ok(c.failures <= 3, `${c.failures} calls tried it before it was ejected`);
    const metrics = await (await fetch(`${w.url}/metrics`)).text();
    assert.match(metrics, /^reranker_lb_backend_outlier_ejected\{backend="tei\/c"\} 1$/m);
    assert.match(metrics, /^reranker_lb_backend_outlier_ejected\{backend="tei\/a"\} 0$/m);
  });
});
