/** Runs one fake reranker: node test/fake-reranker/fake-reranker-cli.ts --port 9101 --format tei [--mode stream] (--help lists every flag) */
import { startFakeReranker } from './fake-reranker.ts';
import { parseCli, usage } from './fake-reranker-options.ts';

let run: ReturnType<typeof parseCli>;
try {
  run = parseCli(process.argv.slice(2));
} catch (error) {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n\n${usage()}`);
  process.exit(2);
}
if (run === 'help') {
  process.stdout.write(usage());
  process.exit(0);
}
const fake = await startFakeReranker({
  port: run.port,
  host: run.host,
  format: run.format,
  name: run.name,
  behaviour: run.behaviour,
  apiKey: run.apiKey,
});
process.stdout.write(`${fake.name} (${run.format}) listening on ${fake.url}\n`);
const stop = () => void fake.close().then(() => process.exit(0));
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
