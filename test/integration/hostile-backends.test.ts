/**
 * Misbehaving backends against the real sidecar over HTTP: each one is cut at a documented limit
 * and answered in our own words — the status class a caller expects, within the time bound, with
 * bounded memory, the process up — and a secret canary never shows up anywhere public or in logs.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import type { Behaviour } from '../fake-reranker/fake-behaviour.ts';
import { get, poolTracker, post, QUERY, type Pool } from '../support/harness.ts';

const { pool, closeAll } = poolTracker();
after(closeAll);

const KEY_CANARY = 'sk-canary-4c0ffee7d00d';
const CALLER_CANARY = 'Bearer caller-canary-b16b00b5';

/** Tight limits so every case ends fast: 0.5 s per attempt, 2 s per request, 1 MiB answers. */
const ROUTER = {
  default_timeout: 2,
  num_retries: 1,
  retry_delay: 0.05,
  fallback_to_local: false,
  max_response_bytes: 1024 * 1024,
};

interface Case {
  readonly name: string;
  readonly behaviour: Partial<Behaviour>;
  /** Status the caller gets with only this backend. */
  readonly alone: number;
  /** The sidecar must answer within this many ms. */
  readonly withinMs: number;
}

const STREAM = { streamChunkBytes: 65_536, streamIntervalMs: 50, streamDurationMs: 20_000 };
const CASES: readonly Case[] = [
  {
    name: 'streams its body for 20 s (undici bodyTimeout alone never fires)',
    behaviour: { mode: 'stream', ...STREAM },
    alone: 503,
    withinMs: 2600,
  },
  { name: 'sends a body that never ends', behaviour: { mode: 'endless', ...STREAM }, alone: 503, withinMs: 2600 },
  { name: 'hangs after the headers', behaviour: { mode: 'hang-after-headers' }, alone: 503, withinMs: 2600 },
  { name: 'hangs before answering', behaviour: { mode: 'hang' }, alone: 503, withinMs: 2600 },
  {
    name: 'answers 8 MB (over max_response_bytes)',
    behaviour: { mode: 'huge', hugeBytes: 8 * 1024 * 1024 },
    alone: 503,
    withinMs: 2000,
  },
  { name: 'redirects', behaviour: { mode: 'redirect', redirectStatus: 302 }, alone: 503, withinMs: 2000 },
  { name: 'redirects permanently', behaviour: { mode: 'redirect', redirectStatus: 308 }, alone: 503, withinMs: 2000 },
  {
    name: 'echoes the Authorization it got in a 500',
    behaviour: { mode: 'echo-auth', echoStatus: 500 },
    alone: 503,
    withinMs: 2000,
  },
  {
    name: 'echoes the Authorization it got in a 401',
    behaviour: { mode: 'echo-auth', echoStatus: 401 },
    alone: 503,
    withinMs: 2000,
  },
  { name: 'answers 1 result for 3 documents', behaviour: { mode: 'short' }, alone: 503, withinMs: 2000 },
  { name: 'answers garbage', behaviour: { mode: 'malformed' }, alone: 503, withinMs: 2000 },
  { name: 'resets every connection', behaviour: { resetEvery: 1 }, alone: 503, withinMs: 2000 },
];

/** Everything a caller, a scraper or a log reader can see. */
async function publicText(p: Pool, bodies: readonly unknown[]): Promise<string> {
  const parts = [JSON.stringify(bodies)];
  for (const path of ['/lb/stats', '/lb/backends', '/lb/config'])
    parts.push(JSON.stringify((await get(p.url, path)).body));
  parts.push(await (await fetch(`${p.url}/metrics`)).text());
  parts.push(p.logs.map((l) => JSON.stringify(l)).join('\n'));
  return parts.join('\n');
}

function rssMb(): number {
  return process.memoryUsage().rss / 1024 / 1024;
}

describe('hostile backends', () => {
  for (const c of CASES) {
    test(`a backend that ${c.name}: ${c.alone} in our words within ${c.withinMs} ms; with a healthy peer, 200`, async () => {
      const alone = await pool(
        [{ name: 'hostile', behaviour: c.behaviour, params: { api_key: KEY_CANARY }, entry: { timeout: 0.5 } }],
        ROUTER,
        { logLevel: 'debug' },
      );
      const rssBefore = rssMb();
      const started = Date.now();
      const reply = await post(alone.url, '/v1/rerank', QUERY, { authorization: CALLER_CANARY });
      const took = Date.now() - started;
      assert.equal(reply.status, c.alone, JSON.stringify(reply.body));
      assert.ok(took < c.withinMs, `answered after ${took} ms`);
      assert.match(
        reply.body.message,
        /^no backend could serve: .*backend hostile: /,
        'what happened, in our words, naming the backend',
      );
      assert.ok(rssMb() - rssBefore < 64, `RSS grew ${Math.round(rssMb() - rssBefore)} MB`);
      assert.equal((await get(alone.url, '/health')).status, 200);

      const paired = await pool(
        [
          {
            name: 'hostile',
            behaviour: c.behaviour,
            params: { api_key: KEY_CANARY },
            entry: { timeout: 0.5, priority: 0 },
          },
          { name: 'good', entry: { priority: 1 } },
        ],
        { ...ROUTER, routing_strategy: 'priority-failover' },
        { logLevel: 'debug' },
      );
      const ok = await post(paired.url, '/v1/rerank', QUERY, { authorization: CALLER_CANARY });
      assert.equal(ok.status, 200, JSON.stringify(ok.body));
      assert.equal(ok.headers.get('x-reranker-lb-backend'), 'good');
      assert.equal(ok.body.results.length, 3);

      for (const p of [alone, paired]) {
        const seen = await publicText(p, [reply.body, ok.body]);
        assert.ok(
          !seen.includes(KEY_CANARY.slice(3)),
          'the backend key appears in a response, an endpoint or a log line',
        );
        assert.ok(
          !seen.includes(CALLER_CANARY.slice(7)),
          "the caller's token appears in a response, an endpoint or a log line",
        );
      }
    });
  }

  test("a backend's 4xx text never reaches the caller: our words, the backend's status", async () => {
    const p = await pool(
      [{ name: 'picky', behaviour: { mode: 'echo-auth', echoStatus: 422 }, params: { api_key: KEY_CANARY } }],
      ROUTER,
      { logLevel: 'debug' },
    );
    const reply = await post(p.url, '/v1/rerank', QUERY, { authorization: CALLER_CANARY });
    assert.equal(reply.status, 422);
    assert.equal(reply.body.error.code, 'backend_rejected_request');
    assert.match(reply.body.message, /^backend picky rejected the request \(HTTP 422\)/);
    const seen = await publicText(p, [reply.body]);
    assert.ok(!seen.includes(KEY_CANARY.slice(3)) && !seen.includes(CALLER_CANARY.slice(7)));
    const line = p.logs.find((l) => l.msg === 'rerank') as { attempts: { detail?: string }[] };
    assert.match(line.attempts[0]!.detail ?? '', /\[redacted\]/, 'the backend text is in the log, redacted');
  });
});
