/** Runs one fake reranker: node demo/fake-reranker-cli.ts --port 9101 --format tei [--latency-ms 5] */
import { parseArgs } from 'node:util';
import { startFakeReranker, type FakeFormat } from './fake-reranker.ts';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '9101' },
    host: { type: 'string', default: '127.0.0.1' },
    format: { type: 'string', default: 'native' },
    name: { type: 'string' },
    'latency-ms': { type: 'string', default: '0' },
    'latency-sigma': { type: 'string', default: '0' },
    scoring: { type: 'string', default: 'bm25' },
  },
});
const fake = await startFakeReranker({
  port: Number(values.port),
  host: values.host,
  format: values.format as FakeFormat,
  name: values.name ?? `fake-${values.format}-${values.port}`,
  behaviour: { latencyMs: Number(values['latency-ms']), latencySigma: Number(values['latency-sigma']), scoring: values.scoring === 'cheap' ? 'cheap' : 'bm25' },
});
process.stdout.write(`${fake.name} (${values.format}) listening on ${fake.url}\n`);
const stop = () => void fake.close().then(() => process.exit(0));
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
