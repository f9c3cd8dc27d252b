/**
 * Pool-wide limits when Redis refuses the password, and a bad Redis setting on reload: calls keep
 * being served on the static share, the WARN line says why (never the password), and a refused
 * reload names the key while the last good config keeps serving. A real redis-server.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startCountingBackend, type CountingBackend } from '../support/counting-backend.ts';
import { eventually } from '../support/eventually.ts';
import { sidecarProcess } from '../support/process.ts';
import { startRedis, type RedisServer } from '../support/redis-server.ts';

let redis: RedisServer;
let backend: CountingBackend;
before(async () => {
  redis = await startRedis({ password: 'right-password' });
  backend = await startCountingBackend();
});
after(async () => {
  await redis.close();
  await backend.close();
});

function config(router: Record<string, unknown>): string {
  return JSON.stringify({
    model_list: [{ model_name: 'tei', rpm: 8, litellm_params: { api_base: backend.url, api_format: 'tei' } }],
    router_settings: {
      sidecar_count: 2,
      health_check_interval: 0,
      fallback_to_local: false,
      num_retries: 0,
      ...router,
    },
  });
}

async function call(url: string): Promise<number> {
  const res = await fetch(`${url}/rerank`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query: 'q', documents: ['a', 'b'] }),
  });
  await res.arrayBuffer();
  return res.status;
}

test('a Redis refusing the password: the static share ceil(8 / 2) serves, a WARN names the refusal; the right password (a reload) shares again', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'rrlb-auth-'));
  const path = join(dir, 'c.yaml');
  writeFileSync(
    path,
    config({ redis_url: `redis://127.0.0.1:${redis.port}`, redis_password: 'os.environ/REDIS_PASSWORD' }),
  );
  const sidecar = await sidecarProcess({
    RERANKER_LOAD_BALANCER_ENABLED: 'true',
    RERANKER_CONFIG_PATH: path,
    REDIS_PASSWORD: 'wrong-password',
    RERANKER_ADMIN_TOKEN: 'admin',
  });
  await eventually(() => sidecar.lines().some((l) => l.msg === 'sidecar listening'), 60_000, 'the sidecar to listen');
  await eventually(
    () => sidecar.lines().find((l) => /falling back/.test(String(l.msg))),
    10_000,
    'the fallback WARN line',
  );
  await new Promise((r) => setTimeout(r, 1100)); // past the start-up grace
  const statuses: number[] = [];
  for (let i = 0; i < 6; i++) statuses.push(await call(sidecar.url));
  assert.deepEqual(statuses, [200, 200, 200, 200, 429, 429], "the static share: 4 of the pool's 8");
  const warn = sidecar.lines().find((l) => /falling back/.test(String(l.msg)))!;
  assert.equal(warn.level, 40);
  assert.equal(warn.problem, 'authentication refused');
  assert.ok(!JSON.stringify(sidecar.lines()).includes('wrong-password'), 'no password in the log');

  // A bad Redis setting on reload: refused, naming the key; the last good config keeps serving.
  writeFileSync(path, config({ redis_url: 'http://127.0.0.1:1' }));
  const refused = await fetch(`${sidecar.url}/lb/reload`, {
    method: 'POST',
    headers: { authorization: 'Bearer admin' },
  });
  assert.equal(refused.status, 422);
  assert.match(
    JSON.stringify(await refused.json()),
    /router_settings\.redis_url: expected the redis:\/\/ or rediss:\/\/ scheme/,
  );
  // The right password, literal this time: shared through Redis within a few seconds.
  writeFileSync(path, config({ redis_url: `redis://127.0.0.1:${redis.port}`, redis_password: 'right-password' }));
  const reload = await fetch(`${sidecar.url}/lb/reload`, {
    method: 'POST',
    headers: { authorization: 'Bearer admin' },
  });
  assert.equal(reload.status, 200);
  await eventually(
    async () => ((await (await fetch(`${sidecar.url}/lb/stats`)).json()) as any).backends[0].limits.mode === 'shared',
    5000,
    'shared mode',
  );
  assert.ok(
    !JSON.stringify(await (await fetch(`${sidecar.url}/lb/config`)).json()).includes('right-password'),
    'no password in /lb/config',
  );
  sidecar.child.kill('SIGKILL');
});
