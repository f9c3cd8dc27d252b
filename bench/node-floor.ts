/**
 * The "node floor": the least a Node proxy can do for a rerank call — node:http in, an undici
 * Pool per backend, one JSON.parse + JSON.stringify each way, round robin. No validation, no
 * retries, no metrics. Every pinned run measures it, so the sidecar's cost reads as "how far from
 * what Node itself costs".
 *
 *   node bench/node-floor.ts --port 9500 --backend http://127.0.0.1:9101 --backend ...
 */
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';

const { values } = parseArgs({
  options: { port: { type: 'string', default: '9500' }, backend: { type: 'string', multiple: true, default: [] } },
});
const pools = values.backend!.map((url) => new Pool(url, { keepAliveTimeout: 10_000 }));
let next = 0;

createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
    const pool = pools[next++ % pools.length]!;
    pool
      .request({
        path: '/v1/rerank',
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      })
      .then(async (answer) => {
        const parsed = (await answer.body.json()) as unknown;
        res.writeHead(answer.statusCode, { 'content-type': 'application/json' }).end(JSON.stringify(parsed));
      })
      .catch(() => res.writeHead(502).end());
  });
}).listen(Number(values.port), '127.0.0.1');
