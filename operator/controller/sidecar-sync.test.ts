import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import { test } from 'node:test';
import { checkSidecars, httpSidecarAsker, type SidecarPod } from './sidecar-sync.ts';

const pods: SidecarPod[] = Array.from({ length: 20 }, (_, i) => ({
  name: `pod-${String(i).padStart(2, '0')}`,
  ip: `10.0.0.${i}`,
}));
const WANT = 'a'.repeat(64);

test('at most `concurrency` sidecars are asked at once', async () => {
  let inFlight = 0;
  let most = 0;
  const report = await checkSidecars(pods, 8000, WANT, {
    concurrency: 4,
    async ask() {
      most = Math.max(most, ++inFlight);
      await new Promise((r) => setImmediate(r));
      inFlight--;
      return { hash: WANT, inconsistent: [] };
    },
  });
  assert.equal(most, 4);
  assert.deepEqual(report, { total: 20, synced: 20, differing: [], inconsistent: [] });
});

test('each differing pod is named with what it serves and what is wanted; unreachable ones say why', async () => {
  const report = await checkSidecars(pods.slice(0, 3), 8000, WANT, {
    async ask(pod) {
      if (pod.name === 'pod-01') return { hash: 'b'.repeat(64), inconsistent: [] };
      if (pod.name === 'pod-02') throw Object.assign(new Error('connect'), { code: 'ECONNREFUSED' });
      return { hash: WANT, inconsistent: [] };
    },
  });
  assert.deepEqual(report, {
    total: 3,
    synced: 1,
    differing: ['pod-01 serves bbbbbbbbbbbb (want aaaaaaaaaaaa)', 'pod-02 unreachable (ECONNREFUSED)'],
    inconsistent: [],
  });
});

test("backends any sidecar's canary distrusts are reported once each, sorted", async () => {
  const report = await checkSidecars(pods.slice(0, 3), 8000, WANT, {
    async ask(pod) {
      return {
        hash: WANT,
        inconsistent: pod.name === 'pod-00' ? ['tei-2', 'tei-0'] : pod.name === 'pod-01' ? ['tei-2'] : [],
      };
    },
  });
  assert.deepEqual(report.inconsistent, ['tei-0', 'tei-2']);
});

test('a sidecar that never answers is given up on at the timeout, not later', async (t) => {
  const server = createServer(() => {}); // accepts, never answers
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  const port = (server.address() as { port: number }).port;
  const asker = httpSidecarAsker(100);
  t.after(() => asker.close());
  const started = performance.now();
  await assert.rejects(asker.ask({ name: 'pod-00', ip: '127.0.0.1' }, port, 100), { code: 'TIMEOUT' });
  // The old headers timeout, on undici's coarse timer, gave up after ~1,030 ms here.
  assert.ok(performance.now() - started < 700, `gave up after ${Math.round(performance.now() - started)} ms`);
});

test('once the check budget is spent no new sidecar is asked: the rest are reported not asked, and the worker is free', async () => {
  let clock = 0;
  const asked: string[] = [];
  const report = await checkSidecars(pods.slice(0, 6), 8000, WANT, {
    concurrency: 2,
    budgetMs: 2000,
    now: () => clock,
    async ask(pod) {
      asked.push(pod.name);
      clock += 1000; // each one hangs until its 1 s timeout
      throw Object.assign(new Error('no answer'), { code: 'TIMEOUT' });
    },
  });
  assert.deepEqual(asked, ['pod-00', 'pod-01']);
  assert.equal(report.synced, 0);
  assert.deepEqual(report.differing.slice(0, 3), [
    'pod-00 unreachable (TIMEOUT)',
    'pod-01 unreachable (TIMEOUT)',
    'pod-02 not asked (the 2 s sync check budget was spent)',
  ]);
});

test("a sidecar's canary rounds are read only from one that measures (runner or own), never from a follower", async (t) => {
  const answers: Record<string, unknown> = {
    '/runner': {
      hash: WANT,
      inconsistent_backends: ['tei/b'],
      canary: { role: 'runner', last_round_at: '2026-12-03T06:00:00.000Z' },
    },
    '/follower': { hash: WANT, inconsistent_backends: ['tei/b'], canary: { role: 'follower', last_round_at: null } },
    '/fresh-runner': { hash: WANT, inconsistent_backends: [], canary: { role: 'runner', last_round_at: null } },
  };
  let path = '/runner';
  const server = createServer((_req, res) => res.end(JSON.stringify(answers[path])));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => server.close());
  const port = (server.address() as { port: number }).port;
  const asker = httpSidecarAsker(1000);
  t.after(() => asker.close());
  const pod = { name: 'app-0', ip: '127.0.0.1' };
  assert.deepEqual((await asker.ask(pod, port, 1000)).runnerRound, {
    inconsistent: ['tei/b'],
    at: '2026-12-03T06:00:00.000Z',
  });
  path = '/follower';
  assert.equal(
    (await asker.ask(pod, port, 1000)).runnerRound,
    undefined,
    'a follower repeats the plan: not a measurement',
  );
  path = '/fresh-runner';
  assert.equal((await asker.ask(pod, port, 1000)).runnerRound, undefined, 'no round finished yet');
  const report = await checkSidecars([pod, { name: 'app-1', ip: '127.0.0.1' }], port, WANT, {
    ask: async (p) =>
      p.name === 'app-0'
        ? { hash: WANT, inconsistent: [], runnerRound: { inconsistent: ['x'], at: 'T' } }
        : { hash: WANT, inconsistent: [] },
  });
  assert.deepEqual([...report.runnerRounds!.keys()], ['app-0']);
});

test('settings and endpoints are compared apart: a sidecar on the wanted config with older endpoints is synced for one, not the other', async () => {
  const report = await checkSidecars(pods.slice(0, 3), 8000, WANT, {
    endpoints: 'e'.repeat(16),
    async ask(pod) {
      if (pod.name === 'pod-02') throw Object.assign(new Error('connect'), { code: 'ECONNREFUSED' });
      return { hash: WANT, endpoints: pod.name === 'pod-00' ? 'e'.repeat(16) : 'd'.repeat(16), inconsistent: [] };
    },
  });
  assert.deepEqual([report.synced, report.differing], [2, ['pod-02 unreachable (ECONNREFUSED)']]);
  assert.deepEqual(report.endpoints, {
    synced: 1,
    differing: ['pod-01 has dddddddddddd (want eeeeeeeeeeee)', 'pod-02 unreachable (ECONNREFUSED)'],
  });
});

test('the HTTP asker reads the settings hash and the endpoint digest from /lb/config', async (t) => {
  const server = createServer((_req, res) =>
    res.end(
      JSON.stringify({
        hash: WANT,
        endpoints: { mode: 'watch', digest: 'f'.repeat(16) },
        inconsistent_backends: ['x'],
      }),
    ),
  );
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => server.close());
  const asker = httpSidecarAsker(500);
  t.after(() => asker.close());
  const view = await asker.ask({ name: 'pod-00', ip: '127.0.0.1' }, (server.address() as { port: number }).port, 1000);
  assert.deepEqual(view, { hash: WANT, endpoints: 'f'.repeat(16), inconsistent: ['x'] });
});
