/** The fake reranker's scripted misbehaviours, seen by a real HTTP client on loopback. */
import assert from 'node:assert/strict';
import { request, type IncomingMessage } from 'node:http';
import { after, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startFakeReranker, type Behaviour, type FakeFormat, type FakeReranker } from './fake-reranker.ts';

const QUERY = {
  query: 'capital of France',
  documents: ['Paris is the capital of France.', 'Berlin is in Germany.', 'Rome is in Italy.'],
};

const started: FakeReranker[] = [];
after(() => Promise.all(started.map((f) => f.close())));

async function fake(behaviour: Partial<Behaviour>, format: FakeFormat = 'native'): Promise<FakeReranker> {
  const f = await startFakeReranker({ format, behaviour });
  started.push(f);
  return f;
}

interface Reply {
  readonly status: number;
  readonly headers: IncomingMessage['headers'];
  readonly text: string;
  readonly chunks: number;
  readonly headersAfterMs: number;
  readonly endedAfterMs: number;
}

/** POSTs on a fresh connection and reads the whole body. */
function post(
  url: string,
  body: unknown = QUERY,
  headers: Record<string, string> = {},
  path = '/rerank',
): Promise<Reply> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const req = request(
      `${url}${path}`,
      { method: 'POST', agent: false, headers: { 'content-type': 'application/json', ...headers } },
      (res) => {
        const headersAfterMs = performance.now() - t0;
        const parts: Buffer[] = [];
        res.on('data', (c: Buffer) => parts.push(c));
        res.on('error', reject);
        res.on('end', () =>
          resolve({
            status: res.statusCode!,
            headers: res.headers,
            text: Buffer.concat(parts).toString('utf8'),
            chunks: parts.length,
            headersAfterMs,
            endedAfterMs: performance.now() - t0,
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

/** POSTs, waits for the headers and `bytes` of body, and hands back the live response. */
function openResponse(url: string, bytes: number): Promise<{ res: IncomingMessage; received: () => number }> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${url}/rerank`,
      { method: 'POST', agent: false, headers: { 'content-type': 'application/json' } },
      (res) => {
        let received = 0;
        res.on('error', () => {});
        res.on('data', (c: Buffer) => {
          received += c.length;
          if (received >= bytes) resolve({ res, received: () => received });
        });
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify(QUERY));
  });
}

async function until(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200 && !condition(); i++) await sleep(10);
  assert.ok(condition(), what);
}

describe('fake reranker: scripted misbehaviours', () => {
  test('stream: headers at once, the body trickles in chunks, and it is valid JSON at the end', async () => {
    const f = await fake({ mode: 'stream', streamChunkBytes: 16, streamIntervalMs: 20, streamDurationMs: 300 });
    const reply = await post(f.url);
    assert.equal(reply.status, 200);
    assert.ok(reply.headersAfterMs < 250, `headers after ${reply.headersAfterMs} ms`);
    assert.ok(reply.endedAfterMs >= 290, `ended after ${reply.endedAfterMs} ms`);
    assert.ok(reply.chunks >= 3, `${reply.chunks} chunks`);
    assert.deepEqual(
      JSON.parse(reply.text).results.map((r: { index: number }) => r.index),
      [0, 1, 2],
    );
  });

  test('endless: writes until the client goes away, then stops', async () => {
    const f = await fake({ mode: 'endless', streamChunkBytes: 1024, streamIntervalMs: 5 });
    const { res, received } = await openResponse(f.url, 4096);
    assert.equal(f.stats.openResponses, 1);
    res.destroy();
    await until(() => f.stats.openResponses === 0, 'the fake still holds the response');
    const after = received();
    await sleep(50);
    assert.equal(received(), after);
  });

  test('stream: stops writing when the client goes away', async () => {
    const f = await fake({ mode: 'stream', streamChunkBytes: 1024, streamIntervalMs: 5, streamDurationMs: 60_000 });
    const { res } = await openResponse(f.url, 2048);
    res.destroy();
    await until(() => f.stats.openResponses === 0, 'the fake still holds the response');
  });

  test('close() ends streaming, endless and hanging responses at once', async () => {
    const modes: Behaviour['mode'][] = ['stream', 'endless', 'hang-after-headers'];
    for (const mode of modes) {
      const f = await startFakeReranker({ behaviour: { mode, streamDurationMs: 60_000 } });
      const { res } = await openResponse(f.url, 1);
      const ended = new Promise((resolve) => res.once('close', resolve));
      const t0 = performance.now();
      await f.close();
      await ended;
      assert.ok(performance.now() - t0 < 1000, `${mode}: close took ${performance.now() - t0} ms`);
    }
  });

  test('hang-after-headers: 200 and one space, then nothing', async () => {
    const f = await fake({ mode: 'hang-after-headers' });
    const { res, received } = await openResponse(f.url, 1);
    assert.equal(res.statusCode, 200);
    await sleep(100);
    assert.equal(received(), 1);
    assert.equal(f.stats.openResponses, 1);
    res.destroy();
  });

  test('redirect: the scripted status and Location; following it is counted', async () => {
    const f = await fake({ mode: 'redirect' });
    const reply = await post(f.url);
    assert.equal(reply.status, 302);
    assert.equal(reply.headers.location, `${f.url}/__redirected`);
    await post(f.url, QUERY, {}, '/__redirected');
    assert.equal(f.stats.redirectsFollowed, 1);
    f.set({ redirectStatus: 307, redirectLocation: 'http://169.254.169.254/latest/meta-data/' });
    const other = await post(f.url);
    assert.deepEqual([other.status, other.headers.location], [307, 'http://169.254.169.254/latest/meta-data/']);
  });

  test('echo-auth: the error body repeats the Authorization header; every header is recorded', async () => {
    const f = await fake({ mode: 'echo-auth' });
    const reply = await post(f.url, QUERY, { authorization: 'Bearer sk-secret-1' });
    assert.equal(reply.status, 500);
    assert.deepEqual(JSON.parse(reply.text), { error: 'auth=Bearer sk-secret-1', message: 'auth=Bearer sk-secret-1' });
    await post(f.url, QUERY);
    await post(f.url, QUERY, { authorization: 'Bearer sk-secret-2' });
    assert.deepEqual(f.stats.authorizations, ['Bearer sk-secret-1', 'Bearer sk-secret-2']);
    assert.equal(f.stats.lastAuthorization, 'Bearer sk-secret-2');
  });

  test('apiKey: a rerank call without that Bearer key gets 401; with it, an answer; health needs no key', async () => {
    const f = await startFakeReranker({ format: 'tei', apiKey: 'k-1' });
    started.push(f);
    const tei = { query: QUERY.query, texts: QUERY.documents };
    assert.equal((await post(f.url, tei)).status, 401);
    assert.equal((await post(f.url, tei, { authorization: 'Bearer k-2' })).status, 401);
    assert.equal((await post(f.url, tei, { authorization: 'Bearer k-1' })).status, 200);
    assert.equal((await fetch(`${f.url}/health`)).status, 200);
  });

  test('short: one result for three documents, whatever top_n says', async () => {
    const f = await fake({ mode: 'short' }, 'tei');
    const reply = await post(f.url, { query: QUERY.query, texts: QUERY.documents, top_n: 3 });
    assert.equal(reply.status, 200);
    assert.deepEqual(
      JSON.parse(reply.text).map((r: { index: number }) => r.index),
      [0],
    );
  });

  test('huge: a valid answer padded to hugeBytes', async () => {
    const f = await fake({ mode: 'huge', hugeBytes: 3_000_000 }, 'cohere');
    const reply = await post(f.url);
    assert.equal(Buffer.byteLength(reply.text), 3_000_000);
    assert.equal(reply.headers['content-length'], '3000000');
    assert.equal(JSON.parse(reply.text).results.length, 3);
  });

  test('resetEvery: every Nth call is reset, counted from when it was set; the others are served', async () => {
    const f = await fake({});
    await post(f.url);
    f.set({ resetEvery: 2 });
    const outcomes: string[] = [];
    for (let i = 0; i < 4; i++)
      outcomes.push(
        await post(f.url).then(
          (r) => String(r.status),
          (e: NodeJS.ErrnoException) => e.code ?? 'error',
        ),
      );
    assert.deepEqual(outcomes, ['200', 'ECONNRESET', '200', 'ECONNRESET']);
  });

  test('behaviour is checked: an unknown mode is a 400 from /__control and a RangeError from set()', async () => {
    const f = await fake({});
    const reply = await post(f.url, { mode: 'explode' }, {}, '/__control');
    assert.equal(reply.status, 400);
    assert.match(JSON.parse(reply.text).error, /mode must be one of/);
    assert.throws(() => f.set({ hugeBytes: -1 }), RangeError);
    const ok = await post(f.url, { mode: 'short', resetEvery: 0 }, {}, '/__control');
    assert.equal(JSON.parse(ok.text).mode, 'short');
  });
});
