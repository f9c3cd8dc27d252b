/** The sidecar as a process: environment, proxy bypass, exit codes, the seed's example config. */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, describe, test } from 'node:test';
import { startFakeReranker, type FakeReranker } from '../fake-reranker/fake-reranker.ts';
import { post, QUERY } from '../support/harness.ts';
import { listening, sidecarProcess } from '../support/process.ts';
import { freePort } from '../support/ports.ts';

const fakes: FakeReranker[] = [];
after(() => Promise.all(fakes.map((f) => f.close())));

describe('sidecar process', () => {
  test("the seed's example YAML, unchanged, with both hosts unreachable, is served by the local backend and marked", async () => {
    const local = await startFakeReranker({ name: 'local' });
    fakes.push(local);
    const proc = await sidecarProcess({
      RERANKER_LOAD_BALANCER_ENABLED: 'true',
      RERANKER_CONFIG_PATH: 'examples/seed-config.yaml',
      RERANKER_LOCAL_BACKEND_URL: local.url,
    });
    await listening(proc);
    for (let i = 0; i < 3; i++) {
      const reply = await post(proc.url, '/rerank', QUERY);
      assert.equal(reply.status, 200);
      assert.equal(reply.headers.get('x-reranker-lb-fallback'), 'local');
    }
    const stats = (await (await fetch(`${proc.url}/lb/stats`)).json()) as any;
    assert.deepEqual(
      stats.backends.map((b: any) => b.name),
      ['primary-reranker', 'backup-reranker'],
    );
    assert.equal(stats.routing_strategy, 'weighted-random');
    assert.ok(!JSON.stringify(stats).includes('optional-key'), 'no key in /lb/stats');
  });

  test('HTTP_PROXY pointing at a dead port does not affect backend calls; NO_PROXY holds the bypass entries', async () => {
    const backend = await startFakeReranker({ name: 'direct', host: '127.0.0.2' });
    fakes.push(backend);
    const dead = `http://127.0.0.1:${await freePort()}`;
    const { writeFileSync, mkdtempSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(join(tmpdir(), 'proxy-'));
    // 127.0.0.2 is not in the bypass list: only a client that ignores HTTP_PROXY reaches it.
    writeFileSync(
      join(dir, 'c.yaml'),
      `model_list:\n  - model_name: direct\n    litellm_params: { api_base: "${backend.url}" }\nrouter_settings: { fallback_to_local: false }\n`,
    );
    const proc = await sidecarProcess({
      RERANKER_LOAD_BALANCER_ENABLED: 'true',
      RERANKER_CONFIG_PATH: join(dir, 'c.yaml'),
      HTTP_PROXY: dead,
      HTTPS_PROXY: dead,
      http_proxy: dead,
      NO_PROXY: 'corp.example',
      NODE_USE_ENV_PROXY: '1',
    });
    await listening(proc);
    const reply = await post(proc.url, '/rerank', QUERY);
    assert.equal(reply.status, 200, JSON.stringify(reply.body));
    assert.equal(backend.stats.requests, 1);
    const started = proc.lines().find((l) => l.msg === 'sidecar listening')!;
    const entries = String(started.no_proxy).split(',');
    for (const want of [
      'corp.example',
      'localhost',
      '127.0.0.1',
      '::1',
      '0.0.0.0',
      '.local',
      '.internal',
      '.svc',
      '.cluster.local',
    ]) {
      assert.ok(entries.includes(want), `${want} in ${started.no_proxy}`);
    }
  });

  test('a missing config with load balancing on exits 2 with a clear message, no stack trace', async () => {
    const proc = await sidecarProcess({
      RERANKER_LOAD_BALANCER_ENABLED: 'true',
      RERANKER_CONFIG_PATH: '/nonexistent/reranker.yaml',
    });
    const [code] = await once(proc.child, 'exit');
    assert.equal(code, 2);
    assert.match(
      proc.stderr(),
      /^reranker-lb: invalid config \/nonexistent\/reranker.yaml:\n {2}\(file\): cannot read \(ENOENT\)\n$/,
    );
  });

  test('an invalid config exits 2 naming the path of the problem', async () => {
    const { writeFileSync, mkdtempSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(join(tmpdir(), 'bad-'));
    writeFileSync(
      join(dir, 'c.yaml'),
      'model_list:\n  - model_name: a\n    litellm_params: { api_base: "http://a:1" }\n    weight: -2\n',
    );
    const proc = await sidecarProcess({
      RERANKER_LOAD_BALANCER_ENABLED: 'true',
      RERANKER_CONFIG_PATH: join(dir, 'c.yaml'),
    });
    const [code] = await once(proc.child, 'exit');
    assert.equal(code, 2);
    assert.match(proc.stderr(), /model_list\[0\]\.weight: expected number >= 0, got -2/);
    assert.doesNotMatch(proc.stderr(), /\n\s+at /);
  });

  test('SIGTERM exits 0', async () => {
    const local = await startFakeReranker({ name: 'local' });
    fakes.push(local);
    const proc = await sidecarProcess({ RERANKER_LOCAL_BACKEND_URL: local.url, RERANKER_SHUTDOWN_DELAY_SECONDS: '0' });
    await listening(proc);
    assert.equal((await post(proc.url, '/rerank', QUERY)).status, 200);
    proc.child.kill('SIGTERM');
    const [code] = await once(proc.child, 'exit');
    assert.equal(code, 0);
  });
});
