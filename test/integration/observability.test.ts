/** /lb/stats, /metrics and request logs show what really happened, and never a secret. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, describe, test } from 'node:test';
import { parseConfigText } from '../../sidecar/config/load.ts';
import { get, post, poolTracker, QUERY, stats } from '../support/harness.ts';

const { pool, closeAll } = poolTracker();
after(closeAll);

/** Reads one sample's value from Prometheus text, e.g. sample(text, 'x_total', {a: 'b'}). */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const match = /^([a-z_:]+)(\{(.*)\})? (\S+)$/.exec(line);
    if (match === null || match[1] !== name) continue;
    const have = Object.fromEntries([...(match[3] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(match[4]);
  }
  return undefined;
}

async function metricsText(url: string): Promise<string> {
  const res = await fetch(`${url}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
  return res.text();
}

describe('stats and metrics after a scripted sequence', () => {
  test('3 successes and 1 failure show up as such', async () => {
    const p = await pool(
      [
        { name: 'good', entry: { priority: 0 } },
        { name: 'bad', entry: { priority: 1 }, behaviour: { mode: 'status', status: 500 } },
      ],
      {
        routing_strategy: 'priority-failover',
        fallback_to_local: false,
        num_retries: 0,
      },
    );
    for (let i = 0; i < 3; i++) assert.equal((await post(p.url, '/v1/rerank', QUERY)).status, 200);
    p.fakes.good!.set({ mode: 'status', status: 500 });
    const failed = await post(p.url, '/v1/rerank', QUERY);
    assert.equal(failed.status, 503, 'num_retries 0: one attempt, then no backend left');
    assert.equal(p.fakes.bad!.stats.requests, 0);

    const s = await stats(p.url);
    const good = s.backends.find((b: any) => b.name === 'good');
    assert.deepEqual([good.requests, good.successes, good.failures], [4, 3, 1]);
    assert.equal(good.last_error.message, 'HTTP 500', 'our own words: the backend text stays in the log');
    assert.ok(good.latency_ms.p50 > 0 && good.latency_ms.p99 >= good.latency_ms.p50);
    assert.equal(good.rpm.used, 4);
    assert.deepEqual([s.totals.requests, s.totals.success, s.totals.unavailable], [4, 3, 1]);
    assert.equal(s.total_backends, 2);
    assert.equal(s.config.generation, 1);
    assert.match(s.config.hash, /^[0-9a-f]{64}$/);

    const text = await metricsText(p.url);
    assert.equal(sample(text, 'reranker_lb_requests_total', { format: 'cohere-v1', outcome: 'success' }), 3);
    assert.equal(sample(text, 'reranker_lb_requests_total', { format: 'cohere-v1', outcome: 'unavailable' }), 1);
    assert.equal(sample(text, 'reranker_lb_backend_attempts_total', { backend: 'good', outcome: 'success' }), 3);
    assert.equal(sample(text, 'reranker_lb_backend_attempts_total', { backend: 'good', outcome: 'backend_error' }), 1);
    assert.equal(sample(text, 'reranker_lb_request_duration_seconds_count', { format: 'cohere-v1' }), 4);
    assert.equal(sample(text, 'reranker_lb_backend_in_flight', { backend: 'good' }), 0);
    assert.equal(sample(text, 'reranker_lb_backend_breaker_state', { backend: 'good' }), 0);
    assert.equal(sample(text, 'reranker_lb_config_info', { generation: '1' }), 1);
  });

  test('retries, fallbacks and rate-limit rejections are counted', async () => {
    const p = await pool(
      [
        { name: 'x', behaviour: { mode: 'status', status: 503 } },
        { name: 'y', behaviour: { mode: 'status', status: 503 } },
      ],
      { num_retries: 1, allowed_fails: 10 },
    );
    const reply = await post(p.url, '/rerank', QUERY);
    assert.equal(reply.headers.get('x-reranker-lb-fallback'), 'local');
    const text = await metricsText(p.url);
    assert.equal(sample(text, 'reranker_lb_retries_total'), 1);
    assert.equal(sample(text, 'reranker_lb_local_fallbacks_total'), 1);
    assert.equal(sample(text, 'reranker_lb_requests_total', { format: 'native', outcome: 'fallback' }), 1);

    const limited = await pool([{ name: 'z', entry: { rpm: 1 } }], { fallback_to_local: false });
    assert.equal((await post(limited.url, '/rerank', QUERY)).status, 200);
    const refused = await post(limited.url, '/rerank', QUERY);
    assert.equal(refused.status, 429);
    assert.ok(Number(refused.headers.get('retry-after')) >= 59);
    assert.equal(sample(await metricsText(limited.url), 'reranker_lb_rate_limit_rejections_total'), 1);
  });

  test('promtool check metrics passes on the real exposition', async () => {
    const p = await pool([{ name: 'a' }, { name: 'b', behaviour: { mode: 'status', status: 500 } }]);
    for (let i = 0; i < 5; i++) await post(p.url, '/rerank', QUERY);
    const text = await metricsText(p.url);
    const check = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    assert.equal(check.error, undefined, 'promtool must be installed (scripts/ensure-tools.sh)');
    assert.equal(check.status, 0, `${check.stdout}${check.stderr}`);
  });
});

describe('request logs', () => {
  test('one line per call with the documented fields, and no query, document or key text anywhere', async () => {
    const secretKey = 'sk-RECOGNISABLE-SECRET-4711';
    const secretDoc = 'TOPSECRET-DOCUMENT-9876 about Paris';
    const secretQuery = 'CONFIDENTIAL-QUERY-1234 capital';
    const p = await pool(
      [
        { name: 'keyed', params: { api_key: secretKey }, entry: { priority: 0 } },
        { name: 'spare', entry: { priority: 1 } },
      ],
      { routing_strategy: 'priority-failover' },
    );
    const ok = await post(
      p.url,
      '/v1/rerank',
      { query: secretQuery, documents: [secretDoc, 'other'] },
      { 'x-request-id': 'req-42' },
    );
    assert.equal(ok.headers.get('x-request-id'), 'req-42');
    p.fakes.keyed!.set({ mode: 'status', status: 500 });
    const failedOver = await post(p.url, '/rerank', { query: secretQuery, documents: [secretDoc] });
    const generated = failedOver.headers.get('x-request-id');
    assert.match(generated ?? '', /^[0-9a-f-]{36}$/);
    await post(p.url, '/rerank', { query: secretQuery, documents: [secretDoc, 7] });

    const lines = p.logs.filter((l) => l.msg === 'rerank');
    assert.equal(lines.length, 3, 'one line per call');
    const [first, second, third] = lines as any[];
    assert.deepEqual(
      {
        id: first.request_id,
        format: first.format,
        status: first.status,
        docs: first.documents,
        fallback: first.fallback,
        backend: first.backend,
      },
      { id: 'req-42', format: 'cohere-v1', status: 200, docs: 2, fallback: false, backend: 'keyed' },
    );
    assert.ok(first.latency_ms > 0 && first.estimated_tokens > 0);
    assert.equal(second.request_id, generated);
    assert.deepEqual(
      second.attempts.map((a: any) => [a.backend, a.outcome]),
      [
        ['keyed', 500],
        ['spare', 200],
      ],
    );
    assert.ok(second.attempts.every((a: any) => typeof a.ms === 'number'));
    assert.deepEqual([third.status, third.error_code], [400, 'invalid_request']);

    const everything =
      JSON.stringify(p.logs) + JSON.stringify((await get(p.url, '/lb/stats')).body) + (await metricsText(p.url));
    for (const secret of [secretKey, 'TOPSECRET', 'CONFIDENTIAL'])
      assert.ok(!everything.includes(secret), `${secret} leaked`);
  });

  test('enable_request_logging: false writes no request lines', async () => {
    const p = await pool([{ name: 'a' }], { enable_request_logging: false });
    await post(p.url, '/rerank', QUERY);
    assert.equal(p.logs.filter((l) => l.msg === 'rerank').length, 0);
  });
});

describe('admin endpoints', () => {
  test('off without a token; with one, a wrong or missing token is 401', async () => {
    const p = await pool([{ name: 'a' }]);
    const off = await post(p.url, '/lb/reload', {});
    assert.equal(off.status, 404);
    assert.match(off.body.message, /admin API is off/);
  });

  test('POST /lb/reload needs the bearer token, then reloads', async () => {
    let strategy = 'round-robin';
    const p = await pool(
      [{ name: 'a' }],
      {},
      { adminToken: 'admin-t0ken', reloadRouter: () => ({ routing_strategy: strategy }) },
    );
    assert.equal((await post(p.url, '/lb/reload', {})).status, 401);
    assert.equal((await post(p.url, '/lb/reload', {}, { authorization: 'Bearer wrong' })).status, 401);
    const reloaded = await post(p.url, '/lb/reload', {}, { authorization: 'Bearer admin-t0ken' });
    assert.deepEqual([reloaded.status, reloaded.body.result, reloaded.body.generation], [200, 'success', 2]);
    assert.equal((await stats(p.url)).routing_strategy, 'round-robin');
    strategy = 'no-such-strategy';
    const refused = await post(p.url, '/lb/reload', {}, { authorization: 'Bearer admin-t0ken' });
    assert.equal(refused.status, 422);
    assert.match(refused.body.problems[0], /^router_settings\.routing_strategy: expected one of/);
    const after = await stats(p.url);
    assert.equal(after.config.generation, 2, 'the last good config keeps serving');
    assert.deepEqual(
      [after.config.last_reload.result, after.config.last_reload.trigger],
      ['failure', 'admin'],
      '/lb/stats shows that the last reload was refused',
    );
    assert.match(after.config.last_reload.problems[0], /^router_settings\.routing_strategy/);
    assert.equal(sample(await metricsText(p.url), 'reranker_lb_config_reloads_total', { result: 'failure' }), 1);
    assert.ok(!JSON.stringify(p.logs).includes('admin-t0ken'));
  });

  test('the Bearer scheme is case-insensitive (RFC 9110)', async () => {
    const p = await pool([{ name: 'a' }], {}, { adminToken: 'admin-t0ken', reloadRouter: () => ({}) });
    for (const scheme of ['bearer', 'BEARER', 'Bearer']) {
      assert.equal(
        (await post(p.url, '/lb/reload', {}, { authorization: `${scheme} admin-t0ken` })).status,
        200,
        scheme,
      );
    }
    assert.equal((await post(p.url, '/lb/reload', {}, { authorization: 'Basic admin-t0ken' })).status, 401);
  });
});

describe('metric series follow the backends', () => {
  test('a renamed backend leaves no series behind after a reload', async () => {
    const p = await pool([{ name: 'old-name' }]);
    assert.equal((await post(p.url, '/rerank', QUERY)).status, 200);
    assert.ok((await metricsText(p.url)).includes('backend="old-name"'));
    const yaml = JSON.stringify({
      model_list: [{ model_name: 'new-name', litellm_params: { api_base: p.fakes['old-name']!.url } }],
      router_settings: { health_check_interval: 0, local_backend: { api_base: p.local.url } },
    });
    assert.equal(
      p.sidecar.sidecar.reloader.reload('admin', () => parseConfigText(yaml, 'renamed', {})).result,
      'success',
    );
    assert.equal((await post(p.url, '/rerank', QUERY)).status, 200);
    const text = await metricsText(p.url);
    assert.ok(!text.includes('backend="old-name"'), 'series of the removed backend are dropped');
    assert.ok(text.includes('backend="new-name"'));
  });
});
