/**
 * A fake reranker server for the demo, tests and benchmarks. Speaks every backend api_format,
 * scores with BM25, and can be told at runtime to be slow, fail, hang, reset or answer garbage.
 * Control: POST /__control with a partial Behaviour; GET /__stats for counters.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { bm25Scores } from './bm25.ts';

export type FakeFormat = 'native' | 'cohere' | 'jina' | 'tei' | 'vllm' | 'infinity';

export interface Behaviour {
  /** Median latency of a rerank call. */
  latencyMs: number;
  /** Sigma of a log-normal spread around the median (0: fixed latency). */
  latencySigma: number;
  mode: 'ok' | 'status' | 'hang' | 'reset' | 'malformed';
  /** Status for mode 'status'. */
  status: number;
  /** Retry-After header sent with mode 'status', if set. */
  retryAfter: string | undefined;
  /** Status of GET /health. */
  healthStatus: number;
  /** Token usage to report instead of the computed count (tests of usage correction). */
  reportedTokens: number | undefined;
  /** 'bm25' scores for real; 'cheap' returns fixed decreasing scores (benchmarks: no scoring cost). */
  scoring: 'bm25' | 'cheap';
}

export interface FakeStats {
  requests: number;
  healthChecks: number;
  /** Authorization headers seen on rerank calls (tests check key forwarding). */
  lastAuthorization: string | undefined;
  lastBody: unknown;
}

export interface FakeReranker {
  readonly url: string;
  readonly port: number;
  readonly name: string;
  readonly stats: FakeStats;
  set(change: Partial<Behaviour>): void;
  close(): Promise<void>;
}

export const HEALTHY: Behaviour = { latencyMs: 0, latencySigma: 0, mode: 'ok', status: 500, retryAfter: undefined, healthStatus: 200, reportedTokens: undefined, scoring: 'bm25' };

function gaussian(): number {
  return Math.sqrt(-2 * Math.log(1 - Math.random())) * Math.cos(2 * Math.PI * Math.random());
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function documentsOf(body: Record<string, unknown>): string[] {
  const raw = (body.texts ?? body.documents ?? []) as unknown[];
  return raw.map((d) => (typeof d === 'string' ? d : String((d as { text?: unknown }).text ?? '')));
}

export function answerFor(format: FakeFormat, name: string, query: string, docs: string[], reportedTokens?: number, scoring: 'bm25' | 'cheap' = 'bm25'): { body: unknown; headers: Record<string, string> } {
  const scores = scoring === 'bm25' ? bm25Scores(query, docs) : docs.map((_d, i) => 1 / (i + 2));
  const ranked = scores.map((score, index) => ({ index, score })).sort((a, b) => b.score - a.score || a.index - b.index);
  const tokens = reportedTokens ?? docs.reduce((n, d) => n + Math.ceil(d.length / 4), 0) + docs.length * Math.ceil(query.length / 4);
  switch (format) {
    case 'tei':
      return { body: ranked.map((r) => ({ index: r.index, score: r.score })), headers: { 'x-compute-tokens': String(tokens) } };
    case 'jina':
      return { body: { model: name, usage: { total_tokens: tokens }, results: ranked.map((r) => ({ index: r.index, relevance_score: r.score })) }, headers: {} };
    case 'vllm':
      return {
        body: { id: `rerank-${name}`, model: name, usage: { prompt_tokens: tokens, total_tokens: tokens }, results: ranked.map((r) => ({ index: r.index, relevance_score: r.score, document: { text: docs[r.index] } })) },
        headers: {},
      };
    case 'infinity':
      return { body: { object: 'rerank', model: name, usage: { prompt_tokens: 1, total_tokens: 1 }, results: ranked.map((r) => ({ index: r.index, relevance_score: r.score, document: docs[r.index] })) }, headers: {} };
    case 'cohere':
      return { body: { id: `cohere-${name}`, results: ranked.map((r) => ({ index: r.index, relevance_score: r.score })), meta: { billed_units: { search_units: 1 } } }, headers: {} };
    default:
      return { body: { results: ranked.map((r) => ({ index: r.index, relevance_score: r.score })) }, headers: {} };
  }
}

export function startFakeReranker(options: { format?: FakeFormat; name?: string; port?: number; host?: string; behaviour?: Partial<Behaviour> } = {}): Promise<FakeReranker> {
  const format = options.format ?? 'native';
  const name = options.name ?? `fake-${format}`;
  let behaviour: Behaviour = { ...HEALTHY, ...options.behaviour };
  const stats: FakeStats = { requests: 0, healthChecks: 0, lastAuthorization: undefined, lastBody: undefined };
  const hanging = new Set<ServerResponse>();

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = req.url ?? '/';
    if (req.method === 'GET' && (url === '/health' || url === '/healthz')) {
      stats.healthChecks++;
      res.writeHead(behaviour.healthStatus, { 'content-type': 'application/json' }).end(behaviour.healthStatus < 300 ? '{"status":"healthy"}' : '{"status":"unhealthy"}');
      return;
    }
    if (req.method === 'GET' && url === '/__stats') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ name, ...stats, lastBody: undefined }));
      return;
    }
    const text = await readBody(req);
    if (req.method === 'POST' && url === '/__control') {
      behaviour = { ...behaviour, ...(JSON.parse(text) as Partial<Behaviour>) };
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(behaviour));
      return;
    }
    if (req.method !== 'POST' || !url.includes('rerank')) {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}');
      return;
    }
    stats.requests++;
    stats.lastAuthorization = req.headers.authorization;
    const b = behaviour;
    const delay = b.latencySigma > 0 ? b.latencyMs * Math.exp(b.latencySigma * gaussian()) : b.latencyMs;
    if (delay > 0) await new Promise((r) => setTimeout(r, delay));
    if (b.mode === 'hang') {
      hanging.add(res);
      return;
    }
    if (b.mode === 'reset') {
      req.socket.destroy();
      return;
    }
    if (b.mode === 'status') {
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (b.retryAfter !== undefined) headers['retry-after'] = b.retryAfter;
      res.writeHead(b.status, headers).end(JSON.stringify({ error: `scripted ${b.status}`, error_type: 'scripted' }));
      return;
    }
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(text) as Record<string, unknown>;
    } catch {
      res.writeHead(400, { 'content-type': 'application/json' }).end('{"error":"invalid json"}');
      return;
    }
    stats.lastBody = body;
    if (b.mode === 'malformed') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"results":[{"index":99,"relevance_score":"high"}]}');
      return;
    }
    const docs = documentsOf(body);
    if (typeof body.query !== 'string' || docs.length === 0) {
      res.writeHead(422, { 'content-type': 'application/json' }).end('{"error":"query and documents are required"}');
      return;
    }
    const answer = answerFor(format, name, body.query, docs, b.reportedTokens, b.scoring);
    res.writeHead(200, { 'content-type': 'application/json', 'x-fake-backend': name, ...answer.headers }).end(JSON.stringify(answer.body));
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500).end();
    });
  });
  server.keepAliveTimeout = 30_000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      const port = (server.address() as AddressInfo).port;
      const host = options.host ?? '127.0.0.1';
      resolve({
        url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
        port,
        name,
        stats,
        set(change) {
          behaviour = { ...behaviour, ...change };
        },
        close() {
          for (const res of hanging) res.destroy();
          hanging.clear();
          server.closeAllConnections();
          return new Promise((done) => server.close(() => done()));
        },
      });
    });
  });
}
