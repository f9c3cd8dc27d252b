/** Hot reload under steady traffic and graceful shutdown, on the real sidecar process. */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { startFakeReranker, type FakeReranker } from '../fake-reranker/fake-reranker.ts';
import { eventually, get, post, QUERY } from '../support/harness.ts';
import { listening, sidecarProcess } from '../support/process.ts';

const fakes: FakeReranker[] = [];
after(() => Promise.all(fakes.map((f) => f.close())));

/** A directory laid out like a mounted ConfigMap: the file -> ..data/file, ..data -> ..vN. */
class ConfigMapDir {
  readonly dir = mkdtempSync(join(tmpdir(), 'configmap-'));
  readonly file = 'reranker_config.yaml';
  version = 0;

  get path(): string {
    return join(this.dir, this.file);
  }

  /** What the kubelet does: a new version directory, then an atomic ..data symlink swap. */
  swap(text: string): void {
    this.version++;
    const versionDir = `..v${this.version}`;
    mkdirSync(join(this.dir, versionDir));
    writeFileSync(join(this.dir, versionDir, this.file), text);
    symlinkSync(versionDir, join(this.dir, '..data_tmp'));
    renameSync(join(this.dir, '..data_tmp'), join(this.dir, '..data'));
    if (this.version === 1) symlinkSync(join('..data', this.file), this.path);
  }

  /** Rewrites the current version in place: invisible to a directory watch. */
  editInPlace(text: string): void {
    writeFileSync(join(this.dir, `..v${this.version}`, this.file), text);
  }
}

function configText(a: FakeReranker, b: FakeReranker, c: FakeReranker, n: number): string {
  return `# revision ${n}
model_list:
  - model_name: stable
    litellm_params: { api_base: "${a.url}" }
    weight: 2
  - model_name: broken
    litellm_params: { api_base: "${b.url}" }
  - model_name: changing
    litellm_params: { api_base: "${c.url}" }
    weight: ${1 + (n % 3)}
router_settings:
  allowed_fails: 0
  cooldown_time: 600
  health_check_interval: 0
  fallback_to_local: false
`;
}

describe('operations', () => {
  test('20 reloads (symlink swap, SIGHUP, admin call) under steady traffic: zero failed calls, state carried over', async () => {
    const [a, b, c] = await Promise.all(['stable', 'broken', 'changing'].map((name) => startFakeReranker({ name })));
    fakes.push(a!, b!, c!);
    b!.set({ mode: 'status', status: 500 });
    const cm = new ConfigMapDir();
    cm.swap(configText(a!, b!, c!, 0));
    const proc = await sidecarProcess({
      RERANKER_LOAD_BALANCER_ENABLED: 'true',
      RERANKER_CONFIG_PATH: cm.path,
      RERANKER_ADMIN_TOKEN: 'reload-token',
      RERANKER_CONFIG_RECHECK_SECONDS: '600',
    });
    await listening(proc);
    const generation = async () => (await get(proc.url, '/lb/config')).body.generation as number;
    const backend = async (name: string) =>
      (await get(proc.url, '/lb/stats')).body.backends.find((x: any) => x.name === name);

    // Open "broken"'s breaker before the reloads start.
    await eventually(
      async () => (await post(proc.url, '/rerank', QUERY)).status === 200 && b!.stats.requests > 0,
      5000,
      'a call to reach "broken"',
    );
    await eventually(async () => (await backend('broken')).breaker_state === 'open', 2000, 'the breaker to open');
    const brokenCalls = b!.stats.requests;
    const stableBefore = await backend('stable');

    let running = true;
    const statuses: number[] = [];
    const client = async () => {
      while (running) {
        statuses.push((await post(proc.url, '/rerank', QUERY)).status);
        await new Promise((r) => setTimeout(r, 5));
      }
    };
    const clients = [client(), client(), client()];

    for (let n = 1; n <= 20; n++) {
      const before = await generation();
      const text = configText(a!, b!, c!, n);
      if (n % 3 === 1) cm.swap(text);
      else if (n % 3 === 2) {
        cm.editInPlace(text);
        proc.child.kill('SIGHUP');
      } else {
        cm.editInPlace(text);
        const reply = await post(proc.url, '/lb/reload', {}, { authorization: 'Bearer reload-token' });
        assert.equal(reply.body.result, 'success');
      }
      await eventually(async () => (await generation()) === before + 1, 3000, `reload ${n}`);
    }

    // An invalid file is refused; the last good config keeps serving.
    cm.swap('model_list:\n  - model_name: x\n    weight: -1\n');
    await eventually(
      () => proc.lines().some((l) => l.msg === 'config reload refused; the last good config keeps serving'),
      3000,
      'the refusal',
    );
    await new Promise((r) => setTimeout(r, 100));
    running = false;
    await Promise.all(clients);

    assert.ok(statuses.length > 50, `steady traffic: ${statuses.length} calls`);
    assert.deepEqual([...new Set(statuses)], [200], 'zero failed calls');
    assert.equal(await generation(), 21);
    const triggers = proc
      .lines()
      .filter((l) => l.msg === 'config reloaded')
      .map((l) => l.trigger);
    assert.deepEqual(
      {
        file: triggers.filter((t) => t === 'file').length,
        signal: triggers.filter((t) => t === 'signal').length,
        admin: triggers.filter((t) => t === 'admin').length,
      },
      { file: 7, signal: 7, admin: 6 },
    );
    const refusal = proc.lines().find((l) => l.msg === 'config reload refused; the last good config keeps serving')!;
    assert.ok(
      refusal.problems.some((p: string) => p.startsWith('model_list[0].litellm_params: ')),
      JSON.stringify(refusal.problems),
    );
    const broken = await backend('broken');
    assert.equal(broken.breaker_state, 'open', 'the breaker survived 20 reloads');
    assert.equal(b!.stats.requests, brokenCalls, 'no traffic reached the open backend');
    const stableAfter = await backend('stable');
    assert.ok(
      stableAfter.requests > stableBefore.requests && stableAfter.requests >= a!.stats.requests - 0,
      'stats carried over, not reset',
    );
    assert.equal(stableAfter.requests, a!.stats.requests);
    const metrics = await (await fetch(`${proc.url}/metrics`)).text();
    assert.match(metrics, /reranker_lb_config_reloads_total\{result="failure"\} 1/);
    assert.match(metrics, /reranker_lb_config_reloads_total\{result="success"\} 20/);
  });

  test('SIGTERM under load: readiness fails at once, every accepted call completes, exit 0', async () => {
    const slow = await startFakeReranker({ name: 'slow', behaviour: { latencyMs: 400 } });
    fakes.push(slow);
    const dir = mkdtempSync(join(tmpdir(), 'term-'));
    writeFileSync(
      join(dir, 'c.yaml'),
      `model_list:\n  - model_name: slow\n    litellm_params: { api_base: "${slow.url}" }\nrouter_settings: { health_check_interval: 0 }\n`,
    );
    const proc = await sidecarProcess({
      RERANKER_LOAD_BALANCER_ENABLED: 'true',
      RERANKER_CONFIG_PATH: join(dir, 'c.yaml'),
      // Long enough that the calls below fit the delay on a loaded machine (they take milliseconds).
      RERANKER_SHUTDOWN_DELAY_SECONDS: '5',
      RERANKER_SHUTDOWN_GRACE_SECONDS: '10',
    });
    await listening(proc);
    assert.equal((await get(proc.url, '/ready')).status, 200);
    const calls = Array.from({ length: 20 }, () => post(proc.url, '/rerank', QUERY));
    await eventually(() => slow.stats.requests >= 20, 3000, 'all calls to be in flight');
    proc.child.kill('SIGTERM');
    // Readiness goes off in the same tick the sidecar logs the signal: wait for the line, not a guess.
    await eventually(
      () => proc.lines().some((l) => l.msg === 'shutting down: readiness off, draining'),
      5000,
      'the sidecar to take the signal',
    );
    const ready = await get(proc.url, '/ready');
    assert.deepEqual([ready.status, ready.body.shutting_down], [503, true], 'readiness off at once');
    const late = await post(proc.url, '/rerank', QUERY);
    assert.equal(late.status, 200, 'calls during the delay are still served');
    const replies = await Promise.all(calls);
    assert.deepEqual([...new Set(replies.map((r) => r.status))], [200]);
    const [code] = await once(proc.child, 'exit');
    assert.equal(code, 0);
    assert.equal(proc.lines().find((l) => l.msg === 'stopped')?.drained, true);
  });
});
