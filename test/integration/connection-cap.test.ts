/**
 * The cap on open connections (derived from the memory limit in production): a backlog of
 * connections beyond it is refused at once instead of growing the pod's memory, and every call
 * already accepted is still answered.
 */
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, describe, test } from 'node:test';
import { eventually, poolTracker } from '../support/harness.ts';

const { pool, closeAll } = poolTracker();
after(closeAll);

const CALL = JSON.stringify({
  query: 'capital of France',
  documents: ['Paris is the capital of France.', 'Berlin is in Germany.'],
});

/** A raw connection that sends one rerank call and collects what comes back until the server closes it. */
function call(url: string): Promise<{ socket: Socket; answer: Promise<string> }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => {
      socket.write(
        `POST /rerank HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(CALL)}\r\nConnection: close\r\n\r\n${CALL}`,
      );
      let text = '';
      socket.on('data', (d: Buffer) => (text += d.toString()));
      socket.on('error', () => undefined);
      resolve({ socket, answer: new Promise((done) => socket.once('close', () => done(text))) });
    });
    socket.once('error', reject);
  });
}

describe('connection cap', () => {
  test('connections beyond the cap are closed unanswered; the calls within it are all answered', async () => {
    const p = await pool([{ name: 'a', behaviour: { latencyMs: 400 } }], {}, { maxConnections: 3 });
    const within = await Promise.all([call(p.url), call(p.url), call(p.url)]);
    await eventually(async () => p.fakes.a!.stats.requests === 3, 5000, 'three calls at the backend');
    const beyond = await call(p.url);
    assert.equal(await beyond.answer, '', 'the fourth connection is closed without an answer');
    for (const c of within) assert.match(await c.answer, /^HTTP\/1\.1 200 /);
    assert.equal(p.fakes.a!.stats.requests, 3);
    const warning = p.logs.find((l) => l.msg === 'connections refused: at the cap derived from the memory limit');
    assert.deepEqual([warning?.max_connections, warning?.refused_since_last_warning], [3, 1]);
  });
});
