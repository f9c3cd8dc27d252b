/** The sidecar process against bad surroundings: a busy port, missing files, a noisy directory, rotated keys. */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { startFakeReranker, type FakeReranker } from '../fake-reranker/fake-reranker.ts';
import { eventually, get, post, QUERY } from '../support/harness.ts';
import { freePort } from '../support/ports.ts';
import { listening, sidecarProcess } from '../support/process.ts';

const fakes: FakeReranker[] = [];
after(() => Promise.all(fakes.map((f) => f.close())));

function configDir(yaml: string): { dir: string; path: string } {
  const dir = mkdtempSync(join(tmpdir(), 'rlb-proc-'));
  const path = join(dir, 'reranker_config.yaml');
  writeFileSync(path, yaml);
  return { dir, path };
}

async function fake(): Promise<FakeReranker> {
  const f = await startFakeReranker({ name: 'b' });
  fakes.push(f);
  return f;
}

describe('sidecar process hardening', () => {
  test('a port in use is one line on stderr and exit 2, no stack trace', async () => {
    const port = await freePort();
    const blocker = createServer().listen(port, '127.0.0.1');
    await once(blocker, 'listening');
    try {
      const proc = await sidecarProcess({}, { port });
      const [code] = await once(proc.child, 'exit');
      assert.equal(code, 2);
      assert.equal(
        proc.stderr().trim(),
        `reranker-lb: cannot listen: port ${port} on 127.0.0.1 is already in use (set RERANKER_LB_PORT)`,
      );
    } finally {
      blocker.close();
    }
  });

  test('a missing admin token file is named, exit 2', async () => {
    const proc = await sidecarProcess({ RERANKER_ADMIN_TOKEN_FILE: '/nonexistent/admin-token' });
    const [code] = await once(proc.child, 'exit');
    assert.equal(code, 2);
    assert.match(proc.stderr(), /RERANKER_ADMIN_TOKEN_FILE: cannot read \/nonexistent\/admin-token \(ENOENT\)/);
    assert.doesNotMatch(proc.stderr(), /\n\s+at /, 'no stack trace');
  });

  // That the log file's own writes trigger no reload is proven without waiting in
  // sidecar/reload/reload.test.ts (the watcher in a real directory); this is the whole process.
  test('a log file beside the config: a bad edit is refused, the last good config serves, a good edit applies', async () => {
    const b = await fake();
    const { dir, path } = configDir(`model_list:\n  - { model_name: b, litellm_params: { api_base: "${b.url}" } }\n`);
    const proc = await sidecarProcess(
      { RERANKER_LOAD_BALANCER_ENABLED: 'true', RERANKER_CONFIG_PATH: path },
      { logFile: join(dir, 'sidecar.log') },
    );
    await listening(proc);
    writeFileSync(path, 'model_list:\n  - { model_name: b, weight: -1, litellm_params: { api_base: "http://x:1" } }\n');
    await eventually(() => proc.lines().some((l) => l.msg?.startsWith('config reload refused')), 5000, 'the refusal');
    assert.equal((await post(proc.url, '/rerank', QUERY)).status, 200, 'the last good config keeps serving');
    writeFileSync(path, `model_list:\n  - { model_name: b, weight: 2, litellm_params: { api_base: "${b.url}" } }\n`);
    await eventually(() => proc.lines().some((l) => l.msg === 'config reloaded'), 5000, 'the good edit');
    assert.equal(
      proc.lines().filter((l) => l.msg?.startsWith('config reload refused')).length,
      1,
      'the bad edit was refused once',
    );
  });

  test('a rotated key file takes effect though the YAML is unchanged', async () => {
    const b = await fake();
    const { dir, path } = configDir('');
    const keyFile = join(dir, 'key');
    writeFileSync(keyFile, 'first-key\n');
    writeFileSync(
      path,
      `model_list:\n  - { model_name: b, litellm_params: { api_base: "${b.url}", api_key_file: "${keyFile}" } }\n`,
    );
    const proc = await sidecarProcess({
      RERANKER_LOAD_BALANCER_ENABLED: 'true',
      RERANKER_CONFIG_PATH: path,
      RERANKER_CONFIG_RECHECK_SECONDS: '0.5',
    });
    await listening(proc);
    await post(proc.url, '/rerank', QUERY);
    assert.equal(b.stats.lastAuthorization, 'Bearer first-key');
    writeFileSync(keyFile, 'second-key\n');
    await eventually(
      async () => {
        await post(proc.url, '/rerank', QUERY);
        return b.stats.lastAuthorization === 'Bearer second-key';
      },
      5000,
      'the rotated key',
    );
    const reloaded = await eventually(
      () => proc.lines().find((l) => l.msg === 'config reloaded'),
      3000,
      'the reload log line',
    );
    assert.equal(reloaded?.keys_changed_only, true);
    assert.ok(!JSON.stringify(proc.lines()).includes('second-key'), 'never logged');
  });

  test('with the API as source, a missing mounted file waits (not ready) instead of exiting', async () => {
    const { dir } = configDir('');
    const kubeconfig = join(dir, 'kubeconfig');
    const dead = await freePort();
    writeFileSync(
      kubeconfig,
      `apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "http://127.0.0.1:${dead}"}}]\nusers: [{name: u, user: {token: t}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n`,
    );
    const proc = await sidecarProcess({
      RERANKER_LOAD_BALANCER_ENABLED: 'true',
      RERANKER_CONFIG_PATH: join(dir, 'not-mounted-yet', 'reranker_config.yaml'),
      RERANKER_CONFIGMAP_NAME: 'pool-reranker-config',
      RERANKER_CONFIGMAP_NAMESPACE: 'app',
      KUBECONFIG: kubeconfig,
    });
    await listening(proc);
    // It answers while the file is missing: alive and waiting, not ready.
    assert.equal((await get(proc.url, '/ready')).status, 503);
    assert.equal(proc.child.exitCode, null, proc.stderr());
    const config = (await get(proc.url, '/lb/config')).body;
    assert.equal(config.source_kind, 'kubernetes');
    proc.child.kill('SIGKILL');
  });
});

describe('logging never blocks calls', () => {
  test('with stdout stalled, calls keep being answered and dropped log lines are counted', async () => {
    const b = await fake();
    const { path } = configDir(`model_list:\n  - { model_name: b, litellm_params: { api_base: "${b.url}" } }\n`);
    const proc = await sidecarProcess({
      RERANKER_LOAD_BALANCER_ENABLED: 'true',
      RERANKER_CONFIG_PATH: path,
      RERANKER_LOG_BUFFER_BYTES: '4096',
    });
    await listening(proc);
    // The same calls with stdout read, then stalled: a ratio, not a wall-clock bound.
    const msPerCall = async (n: number) => {
      const started = performance.now();
      for (let i = 0; i < n; i++) assert.equal((await post(proc.url, '/rerank', QUERY)).status, 200);
      return (performance.now() - started) / n;
    };
    const flowing = await msPerCall(100);
    proc.child.stdout!.pause(); // nobody reads the log: the pipe fills, then the buffer
    proc.child.stdout!.removeAllListeners('data');
    const stalled = await msPerCall(300);
    const metrics = await (await fetch(`${proc.url}/metrics`)).text();
    const dropped = Number(/^reranker_lb_log_lines_dropped_total (\d+)/m.exec(metrics)?.[1]);
    assert.ok(dropped > 0, `dropped ${dropped}`);
    assert.ok(
      stalled < 3 * flowing,
      `${stalled.toFixed(2)} ms per call with stdout stalled, ${flowing.toFixed(2)} with it read`,
    );
    proc.child.kill('SIGKILL');
  });
});
