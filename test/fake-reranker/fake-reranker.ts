/**
 * A fake reranker server for the demo, tests and benchmarks. Speaks every backend api_format,
 * scores with BM25, and can be told at runtime to be slow, fail, hang, reset, answer garbage,
 * trickle, redirect, echo keys and more (see fake-behaviour.ts for every mode).
 * Control: POST /__control with a partial Behaviour; GET /__stats for counters.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { bm25Scores } from './bm25.ts';
import { behaviourProblem, HEALTHY, type Behaviour, type Scoring } from './fake-behaviour.ts';
import { hangAfterHeaders, OpenResponses, padded, trickle, type Headers } from './fake-misbehaviours.ts';
import { infoBody, metricsText, ServingSlots, timingHeaders } from './fake-load.ts';

export type FakeFormat = 'native' | 'cohere' | 'jina' | 'tei' | 'vllm' | 'infinity';
export type { Behaviour, FakeMode } from './fake-behaviour.ts';

/** stats.authorizations keeps this many, the newest. */
const MAX_RECORDED_AUTHORIZATIONS = 1000;

export interface FakeStats {
  requests: number;
  healthChecks: number;
  /** Authorization header of the last rerank call (tests check key forwarding). */
  lastAuthorization: string | undefined;
  /** Every Authorization header sent with a rerank call, oldest first (calls without one add nothing). */
  authorizations: string[];
  /** Requests to /__redirected, where mode 'redirect' points by default: a client followed it. */
  redirectsFollowed: number;
  /** Responses still open in modes hang, stream, endless, huge, hang-after-headers: 0 once clients let go. */
  openResponses: number;
  lastBody: unknown;
  /** TEI-like load (behaviour.concurrency, maxConcurrentRequests): most calls served at once, calls refused 429. */
  maxRunning: number;
  maxHeld: number;
  overloaded: number;
}

export interface FakeReranker {
  readonly url: string;
  readonly port: number;
  readonly name: string;
  readonly stats: FakeStats;
  set(change: Partial<Behaviour>): void;
  /** Ends every open response (streaming, endless, hanging) and the server. */
  close(): Promise<void>;
}

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

function safeJson(text: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

function documentsOf(body: Record<string, unknown>): string[] {
  const raw = (body.texts ?? body.documents ?? []) as unknown[];
  return raw.map((d) => (typeof d === 'string' ? d : String((d as { text?: unknown }).text ?? '')));
}

/** `maxResults` cuts the ranked list (mode 'short'); tokens still count every document. */
export function answerFor(
  format: FakeFormat,
  name: string,
  query: string,
  docs: string[],
  reportedTokens?: number,
  scoring: Scoring = 'bm25',
  maxResults?: number,
): { body: unknown; headers: Record<string, string> } {
  const scores = scoring === 'cheap' ? docs.map((_d, i) => 1 / (i + 2)) : bm25Scores(query, docs);
  if (scoring === 'reversed') for (let i = 0; i < scores.length; i++) scores[i] = -scores[i]!;
  const ranked = scores
    .map((score, index) => ({ index, score }))
    .sort((a, b) => b.score - a.score || a.index - b.index);
  if (maxResults !== undefined && maxResults < ranked.length) ranked.length = maxResults;
  const tokens =
    reportedTokens ?? docs.reduce((n, d) => n + Math.ceil(d.length / 4), 0) + docs.length * Math.ceil(query.length / 4);
  switch (format) {
    case 'tei':
      return {
        body: ranked.map((r) => ({ index: r.index, score: r.score })),
        headers: { 'x-compute-tokens': String(tokens) },
      };
    case 'jina':
      return {
        body: {
          model: name,
          usage: { total_tokens: tokens },
          results: ranked.map((r) => ({ index: r.index, relevance_score: r.score })),
        },
        headers: {},
      };
    case 'vllm':
      return {
        body: {
          id: `rerank-${name}`,
          model: name,
          usage: { prompt_tokens: tokens, total_tokens: tokens },
          results: ranked.map((r) => ({ index: r.index, relevance_score: r.score, document: { text: docs[r.index] } })),
        },
        headers: {},
      };
    case 'infinity':
      return {
        body: {
          object: 'rerank',
          model: name,
          usage: { prompt_tokens: 1, total_tokens: 1 },
          results: ranked.map((r) => ({ index: r.index, relevance_score: r.score, document: docs[r.index] })),
        },
        headers: {},
      };
    case 'cohere':
      return {
        body: {
          id: `cohere-${name}`,
          results: ranked.map((r) => ({ index: r.index, relevance_score: r.score })),
          meta: { billed_units: { search_units: 1 } },
        },
        headers: {},
      };
    default:
      return { body: { results: ranked.map((r) => ({ index: r.index, relevance_score: r.score })) }, headers: {} };
  }
}

const JSON_TYPE = { 'content-type': 'application/json' } as const;

function recordAuthorization(stats: FakeStats, authorization: string | undefined): void {
  stats.lastAuthorization = authorization;
  if (authorization === undefined) return;
  stats.authorizations.push(authorization);
  if (stats.authorizations.length > MAX_RECORDED_AUTHORIZATIONS) stats.authorizations.shift();
}

/** The modes that answer without reading the request; false when the mode needs the answer. */
function misbehaveBeforeAnswer(b: Behaviour, req: IncomingMessage, res: ServerResponse, open: OpenResponses): boolean {
  switch (b.mode) {
    case 'hang':
      open.track(res);
      return true;
    case 'reset':
      req.socket.destroy();
      return true;
    case 'status': {
      const headers: Headers = { ...JSON_TYPE };
      if (b.retryAfter !== undefined) headers['retry-after'] = b.retryAfter;
      res.writeHead(b.status, headers).end(JSON.stringify({ error: `scripted ${b.status}`, error_type: 'scripted' }));
      return true;
    }
    case 'redirect': {
      const location = b.redirectLocation ?? `http://${req.headers.host ?? 'localhost'}/__redirected`;
      res
        .writeHead(b.redirectStatus, { ...JSON_TYPE, location })
        .end(JSON.stringify({ error: `moved to ${location}` }));
      return true;
    }
    case 'echo-auth': {
      const echoed = `auth=${req.headers.authorization ?? ''}`;
      res.writeHead(b.echoStatus, JSON_TYPE).end(JSON.stringify({ error: echoed, message: echoed }));
      return true;
    }
    case 'endless':
      trickle(
        res,
        JSON_TYPE,
        { chunkBytes: b.streamChunkBytes, intervalMs: b.streamIntervalMs, durationMs: Infinity, tail: '' },
        open,
      );
      return true;
    case 'hang-after-headers':
      hangAfterHeaders(res, JSON_TYPE, open);
      return true;
    default:
      return false;
  }
}

export interface FakeOptions {
  format?: FakeFormat;
  name?: string;
  port?: number;
  host?: string;
  behaviour?: Partial<Behaviour>;
  /** When set, rerank calls without `Authorization: Bearer <apiKey>` get 401, as a hosted API answers. */
  apiKey?: string;
  /**
   * How a call's latency is spent (default: a real timer). A test that owns the sidecar's clock
   * passes one that moves that clock instead, so the latency the sidecar measures is exact.
   */
  spend?: (ms: number) => Promise<void>;
}

export function startFakeReranker(options: FakeOptions = {}): Promise<FakeReranker> {
  const format = options.format ?? 'native';
  const name = options.name ?? `fake-${format}`;
  let behaviour: Behaviour = HEALTHY;
  let callsSinceResetEvery = 0;
  const stats: FakeStats = {
    requests: 0,
    healthChecks: 0,
    lastAuthorization: undefined,
    authorizations: [],
    redirectsFollowed: 0,
    openResponses: 0,
    lastBody: undefined,
    maxRunning: 0,
    maxHeld: 0,
    overloaded: 0,
  };
  const slots = new ServingSlots();
  const open = new OpenResponses((count) => {
    stats.openResponses = count;
  });
  change(options.behaviour ?? {});

  function change(partial: Partial<Behaviour>): void {
    const problem = behaviourProblem(partial as Record<string, unknown>);
    if (problem !== undefined) throw new RangeError(problem);
    behaviour = { ...behaviour, ...partial };
    if (partial.resetEvery !== undefined) callsSinceResetEvery = 0;
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = req.url ?? '/';
    if (req.method === 'GET' && (url === '/health' || url === '/healthz')) {
      stats.healthChecks++;
      res
        .writeHead(behaviour.healthStatus, JSON_TYPE)
        .end(behaviour.healthStatus < 300 ? '{"status":"healthy"}' : '{"status":"unhealthy"}');
      return;
    }
    if (req.method === 'GET' && url === '/__stats') {
      stats.maxRunning = slots.maxRunning;
      stats.maxHeld = slots.maxHeld;
      stats.overloaded = slots.overloaded;
      res.writeHead(200, JSON_TYPE).end(JSON.stringify({ name, ...stats, lastBody: undefined }));
      return;
    }
    if (req.method === 'GET' && url === '/metrics') {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(metricsText(slots));
      return;
    }
    if (req.method === 'GET' && url === '/info' && format === 'tei') {
      res.writeHead(200, JSON_TYPE).end(JSON.stringify(infoBody(name, behaviour)));
      return;
    }
    if (url === '/__redirected') {
      stats.redirectsFollowed++;
      res.writeHead(404, JSON_TYPE).end('{"error":"this fake does not serve redirected calls"}');
      return;
    }
    const text = await readBody(req);
    if (req.method === 'POST' && url === '/__control') {
      try {
        change(JSON.parse(text) as Partial<Behaviour>);
      } catch (error) {
        res.writeHead(400, JSON_TYPE).end(JSON.stringify({ error: String(error) }));
        return;
      }
      res.writeHead(200, JSON_TYPE).end(JSON.stringify(behaviour));
      return;
    }
    if (req.method !== 'POST' || !url.includes('rerank')) {
      res.writeHead(404, JSON_TYPE).end('{"error":"not found"}');
      return;
    }
    stats.requests++;
    recordAuthorization(stats, req.headers.authorization);
    if (options.apiKey !== undefined && req.headers.authorization !== `Bearer ${options.apiKey}`) {
      res.writeHead(401, JSON_TYPE).end('{"error":"invalid or missing api key"}');
      return;
    }
    const b = behaviour;
    if (!slots.admit(b)) {
      res.writeHead(429, JSON_TYPE).end('{"error":"Model is overloaded","error_type":"overloaded"}');
      return;
    }
    const queued = performance.now();
    const turn = slots.acquire(b);
    if (turn !== undefined) await turn;
    try {
      await serve(req, res, text, b, performance.now() - queued);
    } finally {
      slots.release(b);
    }
  }

  async function serve(
    req: IncomingMessage,
    res: ServerResponse,
    text: string,
    b: Behaviour,
    queueMs: number,
  ): Promise<void> {
    const median =
      b.latencyMs + (b.latencyPerDocumentMs > 0 ? b.latencyPerDocumentMs * documentsOf(safeJson(text)).length : 0);
    const delay = b.latencySigma > 0 ? median * Math.exp(b.latencySigma * gaussian()) : median;
    if (delay > 0)
      await (options.spend === undefined ? new Promise((r) => setTimeout(r, delay)) : options.spend(delay));
    if (b.resetEvery > 0 && ++callsSinceResetEvery % b.resetEvery === 0) {
      req.socket.destroy();
      return;
    }
    if (misbehaveBeforeAnswer(b, req, res, open)) return;
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(text) as Record<string, unknown>;
    } catch {
      res.writeHead(400, JSON_TYPE).end('{"error":"invalid json"}');
      return;
    }
    stats.lastBody = body;
    if (b.mode === 'malformed') {
      res.writeHead(200, JSON_TYPE).end('{"results":[{"index":99,"relevance_score":"high"}]}');
      return;
    }
    const docs = documentsOf(body);
    if (typeof body.query !== 'string' || docs.length === 0) {
      res.writeHead(422, JSON_TYPE).end('{"error":"query and documents are required"}');
      return;
    }
    if (format === 'tei' && docs.length > b.maxClientBatchSize) {
      res.writeHead(422, JSON_TYPE).end(
        JSON.stringify({
          error: `batch size ${docs.length} > maximum allowed batch size ${b.maxClientBatchSize}`,
          error_type: 'Validation',
        }),
      );
      return;
    }
    const answer = answerFor(
      format,
      name,
      body.query,
      docs,
      b.reportedTokens,
      b.scoring,
      b.mode === 'short' ? 1 : undefined,
    );
    const timing = format === 'tei' ? timingHeaders(queueMs, delay) : undefined;
    const headers = { 'content-type': 'application/json', 'x-fake-backend': name, ...answer.headers, ...timing };
    if (b.mode === 'huge') padded(res, headers, JSON.stringify(answer.body), b.hugeBytes, open);
    else if (b.mode === 'stream') {
      trickle(
        res,
        headers,
        {
          chunkBytes: b.streamChunkBytes,
          intervalMs: b.streamIntervalMs,
          durationMs: b.streamDurationMs,
          tail: JSON.stringify(answer.body),
        },
        open,
      );
    } else res.writeHead(200, headers).end(JSON.stringify(answer.body));
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
        set: change,
        close() {
          open.destroyAll();
          server.closeAllConnections();
          return new Promise((done) => server.close(() => done()));
        },
      });
    });
  });
}
