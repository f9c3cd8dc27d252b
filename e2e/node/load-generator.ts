/**
 * The application container of the e2e app pod: calls the sidecar beside it
 * (RERANKER_BASE_URL/v1/rerank, Cohere format) and counts every answer. Runs inside the pod with
 * the fake-backend image's Node (mounted from a ConfigMap); no dependencies.
 *   GET  :LOAD_PORT/stats       counters, the last failures, the achieved rate
 *   POST :LOAD_PORT/rate?rps=N  steady open-loop load of N calls/s (0 stops it; at most 200)
 *   POST :LOAD_PORT/calls?n=N   N calls one after another (at most 1000); answers their outcome
 * A call succeeds when the answer is 200 with one result per document; anything else (status,
 * body, network error, 30 s without an answer) is a failure.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';

const TARGET = `${process.env.RERANKER_BASE_URL ?? 'http://localhost:8000'}/v1/rerank`;
const PORT = Number(process.env.LOAD_PORT ?? 9000);
const DOCUMENTS = ['Paris is the capital of France.', 'Berlin is in Germany.', 'The Loire flows through France.'];
const BODY = JSON.stringify({ model: 'rerank-v3.5', query: 'capital of France', documents: DOCUMENTS });
const CALL_TIMEOUT_MS = 30_000;

interface Failure {
  readonly at: string;
  readonly what: string;
}

const stats = { sent: 0, ok: 0, failed: 0, inFlight: 0, maxLatencyMs: 0, rps: 0, failures: [] as Failure[] };
let timer: NodeJS.Timeout | undefined;

function fail(what: string): void {
  stats.failed++;
  stats.failures.push({ at: new Date().toISOString(), what: what.slice(0, 300) });
  if (stats.failures.length > 20) stats.failures.shift();
}

async function call(): Promise<boolean> {
  stats.sent++;
  stats.inFlight++;
  const started = performance.now();
  try {
    const res = await fetch(TARGET, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: BODY,
      signal: AbortSignal.timeout(CALL_TIMEOUT_MS),
    });
    const text = await res.text();
    const results = res.status === 200 ? (JSON.parse(text) as { results?: unknown[] }).results : undefined;
    if (results?.length === DOCUMENTS.length) {
      stats.ok++;
      return true;
    }
    fail(`status ${res.status}: ${text}`);
  } catch (error) {
    const e = error as Error & { cause?: { code?: string } };
    fail(`${e.name}: ${e.cause?.code ?? e.message}`);
  } finally {
    stats.inFlight--;
    stats.maxLatencyMs = Math.max(stats.maxLatencyMs, Math.round(performance.now() - started));
  }
  return false;
}

/**
 * Open loop at a steady rate: every 10 ms, send the calls due since the rate was set, so a late
 * timer (a busy machine) catches up instead of lowering the rate; at most one second's worth.
 */
function setRate(rps: number): void {
  clearInterval(timer);
  timer = undefined;
  stats.rps = rps;
  if (rps === 0) return;
  const since = performance.now();
  let sent = 0;
  timer = setInterval(() => {
    const due = Math.min(Math.floor(((performance.now() - since) * rps) / 1000) - sent, rps);
    for (let i = 0; i < due; i++) void call();
    sent += Math.max(due, 0);
  }, 10);
}

function bounded(value: string | null, max: number): number {
  const n = Number(value ?? 0);
  return Number.isInteger(n) && n >= 0 && n <= max ? n : -1;
}

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://load');
  const reply = (status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  if (req.method === 'GET' && url.pathname === '/stats') return reply(200, stats);
  if (req.method === 'POST' && url.pathname === '/rate') {
    const rps = bounded(url.searchParams.get('rps'), 200);
    if (rps < 0) return reply(400, { error: 'rps: an integer from 0 to 200' });
    setRate(rps);
    return reply(200, stats);
  }
  if (req.method === 'POST' && url.pathname === '/calls') {
    const n = bounded(url.searchParams.get('n'), 1000);
    if (n < 0) return reply(400, { error: 'n: an integer from 0 to 1000' });
    let ok = 0;
    for (let i = 0; i < n; i++) if (await call()) ok++;
    return reply(200, { ok, failed: n - ok });
  }
  reply(404, { error: 'GET /stats, POST /rate?rps=N, POST /calls?n=N' });
}

const server = createServer((req, res) => void handle(req, res));
server.listen(PORT, '0.0.0.0', () => process.stdout.write(`load generator on :${PORT} -> ${TARGET}\n`));
function stop(): void {
  setRate(0);
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
}
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
