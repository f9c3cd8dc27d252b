/**
 * The "node floor": the least a Node proxy can do for a rerank call — node:http in, an undici
 * Pool per backend, one JSON.parse + JSON.stringify each way, round robin. No validation, no
 * retries, no metrics. Every pinned run measures it, so the sidecar's cost reads as "how far from
 * what Node itself costs".
 *
 * `--raw` forwards the request bytes and the answer bytes without parsing either: the ceiling of
 * any pass-through path (what a Node proxy costs when it does no JSON work at all).
 *
 *   node bench/node-floor.ts [--raw] --port 9500 --backend http://127.0.0.1:9101 --backend ...
 */
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '9500' },
    backend: { type: 'string', multiple: true, default: [] },
    raw: { type: 'boolean', default: false },
  },
});
const pools = values.backend!.map((url) => new Pool(url, { keepAliveTimeout: 10_000 }));
const raw = values.raw === true;
let next = 0;

createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const bytes = Buffer.concat(chunks);
    const pool = pools[next++ % pools.length]!;
    pool
      .request({
        path: '/v1/rerank',
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: raw ? bytes : JSON.stringify(JSON.parse(bytes.toString('utf8')) as unknown),
      })
      .then(async (answer) => {
        const out = raw
          ? Buffer.from(await answer.body.arrayBuffer())
          : JSON.stringify((await answer.body.json()) as unknown);
        res.writeHead(answer.statusCode, { 'content-type': 'application/json' }).end(out);
      })
      .catch(() => res.writeHead(502).end());
  });
}).listen(Number(values.port), '127.0.0.1');
