/**
 * The demo: three fake rerankers (native, TEI, vLLM formats) and a local fallback on loopback,
 * plus the real sidecar process on port 8000 with examples/demo-config.yaml.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startFakeReranker, type FakeReranker } from '../test/fake-reranker/fake-reranker.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const port = Number(process.env.RERANKER_LB_PORT ?? 8000);

const backends: FakeReranker[] = await Promise.all([
  startFakeReranker({ port: 9101, format: 'native', name: 'demo-native' }),
  startFakeReranker({ port: 9102, format: 'tei', name: 'demo-tei' }),
  startFakeReranker({ port: 9103, format: 'vllm', name: 'demo-vllm' }),
  startFakeReranker({ port: 8080, format: 'native', name: 'local' }),
]);
for (const b of backends) process.stdout.write(`demo backend ${b.name} on ${b.url}\n`);

const sidecar = spawn(process.execPath, ['sidecar/main.ts'], {
  cwd: root,
  stdio: ['ignore', 'inherit', 'inherit'],
  env: {
    ...process.env,
    RERANKER_LOAD_BALANCER_ENABLED: 'true',
    RERANKER_CONFIG_PATH: 'examples/demo-config.yaml',
    RERANKER_LB_PORT: String(port),
  },
});

const base = `http://localhost:${port}`;
const docs = `["Paris is the capital of France.","Berlin is in Germany.","The Eiffel Tower is in Paris."]`;
process.stdout.write(`
The sidecar is starting on ${base}. Try, in another terminal:

  curl -s ${base}/rerank -H 'content-type: application/json' -d '{"query":"capital of France","documents":${docs},"top_n":2}'
  curl -s ${base}/rerank -H 'content-type: application/json' -d '{"query":"capital of France","texts":${docs},"return_text":true}'
  curl -s ${base}/v1/rerank -H 'content-type: application/json' -d '{"model":"rerank-v3.5","query":"capital of France","documents":${docs},"top_n":2,"return_documents":true}'
  curl -s ${base}/v2/rerank -H 'content-type: application/json' -d '{"model":"rerank-v3.5","query":"capital of France","documents":${docs},"top_n":2}'
  curl -s ${base}/api/v1/rerank -H 'content-type: application/json' -d '{"model":"jina-reranker-v2","query":"capital of France","documents":[{"text":"Paris is the capital of France."},{"text":"Berlin is in Germany."}]}'
  curl -s ${base}/lb/stats

Ctrl-C stops everything.
`);

function shutdown(): void {
  sidecar.kill('SIGTERM');
  void Promise.all(backends.map((b) => b.close())).then(() => process.exit(0));
}
process.once('SIGINT', shutdown);
process.once('SIGTERM', shutdown);
sidecar.on('exit', (code) => {
  if (code !== 0 && code !== null) {
    process.stderr.write(`sidecar exited with code ${code}\n`);
    void Promise.all(backends.map((b) => b.close())).then(() => process.exit(1));
  }
});
