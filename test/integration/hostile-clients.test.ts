/**
 * Clients that are slow, stuck, cross-site or gone: each is cut at a documented limit, answered
 * with a clear 4xx, or has its backend attempts cancelled — and nothing stays held.
 */
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, describe, test } from 'node:test';
import { eventually, poolTracker, post, QUERY, stats } from '../support/harness.ts';

const { pool, closeAll } = poolTracker();
after(closeAll);

const FAST_LIMITS = { client_header_timeout: 1, client_body_timeout: 1, send_timeout: 1 };

function open(url: string): Promise<Socket> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Milliseconds until the server closes `socket`; fails after `limitMs`. */
function closedWithin(socket: Socket, limitMs: number): Promise<number> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`still open after ${limitMs} ms`)), limitMs);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(Date.now() - started);
    });
    socket.on('error', () => undefined);
    socket.on('data', () => undefined);
  });
}

async function inFlight(url: string): Promise<number> {
  // The /lb/stats call itself is one of them.
  return (await stats(url)).totals.in_flight;
}

describe('hostile clients', () => {
  test('slowloris: headers trickling at 1 byte/s are cut at client_header_timeout', async () => {
    const p = await pool([{ name: 'a' }], FAST_LIMITS);
    const socket = await open(p.url);
    socket.write('POST /rerank HTTP/1.1\r\nHost: x\r\n');
    const drip = setInterval(() => socket.writable && socket.write('X'), 1000);
    try {
      const ms = await closedWithin(socket, 4000);
      assert.ok(ms < 3500, `closed after ${ms} ms`);
    } finally {
      clearInterval(drip);
    }
  });

  test('a body that promises 100 bytes and sends 10 is cut at client_body_timeout', async () => {
    const p = await pool([{ name: 'a' }], FAST_LIMITS);
    const socket = await open(p.url);
    socket.write(
      'POST /rerank HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"query":',
    );
    const ms = await closedWithin(socket, 4000);
    assert.ok(ms < 3500, `closed after ${ms} ms`);
    assert.equal(p.fakes.a!.stats.requests, 0);
  });

  test('a client that never reads a large answer is cut at send_timeout and frees its slot', async () => {
    const big = 'lorem ipsum dolor '.repeat(60_000); // ~1 MB per document, 24 MB answer with documents
    const documents = Array.from({ length: 24 }, (_v, i) => `${i} ${big}`);
    const p = await pool([{ name: 'a', behaviour: { scoring: 'cheap' } }], {
      ...FAST_LIMITS,
      max_request_body_bytes: 64 * 1024 * 1024,
    });
    const body = JSON.stringify({ query: 'q', documents, return_documents: true });
    const socket = await open(p.url);
    socket.write(
      `POST /rerank HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n`,
    );
    socket.write(body);
    socket.pause(); // never read the answer (a paused socket also never sees the server's close)
    await eventually(async () => p.fakes.a!.stats.requests === 1, 5000, 'the backend call');
    const started = Date.now();
    await eventually(
      async () => (await stats(p.url)).totals.stalled_answers_cut === 1,
      6000,
      'the stalled answer to be cut',
    );
    const ms = Date.now() - started;
    assert.ok(
      ms < 10_000,
      `cut after ${ms} ms (send_timeout 1 s; a generous bound for a loaded machine, never cut fails it)`,
    );
    assert.equal(await inFlight(p.url), 0);
    socket.destroy();
  });

  test('non-JSON content types get 415 and reach no backend (no cross-site simple POSTs)', async () => {
    const p = await pool([{ name: 'a' }]);
    const body = JSON.stringify(QUERY);
    for (const type of [
      'text/plain',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      undefined,
    ]) {
      const res = await fetch(`${p.url}/rerank`, {
        method: 'POST',
        body: type === undefined ? new Blob([body]) : body,
        headers: type === undefined ? {} : { 'content-type': type },
      });
      const answer = (await res.json()) as { error: { code: string; field: string } };
      assert.equal(res.status, 415, `content-type ${type}`);
      assert.deepEqual([answer.error.code, answer.error.field], ['unsupported_media_type', 'content-type']);
    }
    assert.equal(p.fakes.a!.stats.requests, 0);
    for (const type of [
      'application/json',
      'application/json; charset=utf-8',
      'Application/JSON',
      'application/vnd.api+json',
    ]) {
      assert.equal((await post(p.url, '/rerank', QUERY, { 'content-type': type })).status, 200, type);
    }
  });

  test('a refused upload (415, or 413 by its declared length) is answered at once and its connection closed while the client keeps sending', async () => {
    const p = await pool([{ name: 'a' }], { max_request_body_bytes: 100_000 });
    for (const [type, status] of [
      ['text/plain', 415],
      ['application/json', 413],
    ] as const) {
      const socket = await open(p.url);
      let answer = '';
      socket.on('data', (chunk: Buffer) => (answer += chunk.toString()));
      socket.write(`POST /rerank HTTP/1.1\r\nHost: x\r\nContent-Type: ${type}\r\nContent-Length: 10000000\r\n\r\n`);
      const drip = setInterval(() => socket.writable && socket.write('x'.repeat(1000)), 20);
      try {
        const ms = await closedWithin(socket, 4000);
        assert.ok(ms < 2000, `${status}: closed after ${ms} ms`);
        assert.match(answer, new RegExp(`^HTTP/1.1 ${status} `));
      } finally {
        clearInterval(drip);
      }
    }
    assert.equal(p.fakes.a!.stats.requests, 0);
  });

  test('a caller that disconnects cancels its attempt: the backend connection is closed, nothing held, logged as 499', async () => {
    const p = await pool([{ name: 'slow', behaviour: { mode: 'hang' } }], { fallback_to_local: false });
    const controller = new AbortController();
    const call = fetch(`${p.url}/rerank`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(QUERY),
      signal: controller.signal,
    });
    await eventually(() => p.fakes.slow!.stats.requests === 1, 3000, 'the attempt to start');
    controller.abort();
    await assert.rejects(call);
    await eventually(async () => (await inFlight(p.url)) === 0, 3000, 'in_flight back to 0');
    const line = await eventually(() => p.logs.find((l) => l.msg === 'rerank'), 3000, 'the request log line');
    assert.equal(line.status, 499);
    const s = (await stats(p.url)).backends[0];
    assert.deepEqual(
      [s.failures, s.breaker_state, s.in_flight],
      [0, 'closed', 0],
      'a cancelled attempt is not held against the backend',
    );
  });
});
