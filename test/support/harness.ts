/**
 * Integration harness: real fake-reranker servers on loopback and a real sidecar serving HTTP,
 * in this process (fast) or as a child process (for environment and signal behaviour).
 */
import { Writable } from 'node:stream';
import {
  startFakeReranker,
  type Behaviour,
  type FakeFormat,
  type FakeReranker,
} from '../fake-reranker/fake-reranker.ts';
import { parseConfigText } from '../../sidecar/config/load.ts';
import type { LbConfig } from '../../sidecar/config/model.ts';
import { createLogger } from '../../common/logger.ts';
import type { Clock, Random } from '../../common/clock.ts';
import { startSidecar, type RunningSidecar } from '../../sidecar/server/sidecar.ts';
export { eventually } from './eventually.ts';

export interface FakeSpec {
  readonly name: string;
  readonly format?: FakeFormat;
  readonly behaviour?: Partial<Behaviour>;
  /** Extra keys for this model_list entry (weight, priority, rpm, ...). */
  readonly entry?: Record<string, unknown>;
  /** Extra keys for litellm_params. */
  readonly params?: Record<string, unknown>;
}

export interface Pool {
  readonly url: string;
  readonly fakes: Record<string, FakeReranker>;
  readonly local: FakeReranker;
  readonly sidecar: RunningSidecar;
  readonly logs: Record<string, unknown>[];
  /** Builds a config for the same fakes with other settings (for reload tests). */
  configWith(router: Record<string, unknown>, specs?: readonly FakeSpec[]): LbConfig;
  close(): Promise<void>;
}

function configDocument(
  specs: readonly FakeSpec[],
  fakes: Record<string, FakeReranker>,
  router: Record<string, unknown>,
  local: FakeReranker | undefined,
): string {
  const doc = {
    model_list: specs.map((s) => ({
      model_name: s.name,
      litellm_params: { api_base: fakes[s.name]!.url, api_format: s.format ?? 'native', ...s.params },
      ...s.entry,
    })),
    router_settings: {
      health_check_interval: 0,
      retry_delay: 0.01,
      ...(local === undefined ? {} : { local_backend: { api_base: local.url } }),
      ...router,
    },
  };
  return JSON.stringify(doc, null, 2); // JSON is YAML
}

export interface PoolOptions {
  readonly enabled?: boolean;
  readonly adminToken?: string;
  /** Router settings that a reload reads (the config "on disk"). */
  readonly reloadRouter?: () => Record<string, unknown>;
  /** pino level of the sidecar's log (default info). */
  readonly logLevel?: string;
  /** The sidecar's clock (default the system's): a skipClock lets a test end a cooldown at once. */
  readonly clock?: Clock;
  /** The sidecar's random source (default Math.random). */
  readonly random?: Random;
  /** How the fakes spend their latency (see FakeOptions.spend). */
  readonly spend?: (ms: number) => Promise<void>;
  /** Open client connections at most (default: from the heap limit). */
  readonly maxConnections?: number;
}

export async function startPool(
  specs: readonly FakeSpec[],
  router: Record<string, unknown> = {},
  options: PoolOptions = {},
): Promise<Pool> {
  const fakes: Record<string, FakeReranker> = {};
  for (const spec of specs)
    fakes[spec.name] = await startFakeReranker({
      name: spec.name,
      format: spec.format ?? 'native',
      behaviour: spec.behaviour,
      spend: options.spend,
    });
  const local = await startFakeReranker({ name: 'local' });
  const logs: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n'))
        if (line.trim() !== '') logs.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const configWith = (r: Record<string, unknown>, s: readonly FakeSpec[] = specs) =>
    parseConfigText(configDocument(s, fakes, r, local), 'test', {});
  const reloadRouter = options.reloadRouter;
  const sidecar = await startSidecar({
    config: configWith(router),
    enabled: options.enabled ?? true,
    logger: createLogger(options.logLevel ?? 'info', sink),
    port: 0,
    adminToken: options.adminToken,
    maxConnections: options.maxConnections,
    load: reloadRouter === undefined ? undefined : () => configWith(reloadRouter()),
    clock: options.clock,
    random: options.random,
  });
  return {
    url: sidecar.url,
    fakes,
    local,
    sidecar,
    logs,
    configWith,
    async close() {
      await sidecar.stop();
      await Promise.all([...Object.values(fakes), local].map((f) => f.close()));
    },
  };
}

export interface Reply {
  readonly status: number;
  readonly headers: Headers;
  readonly body: any;
}

export async function post(
  url: string,
  path: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<Reply> {
  const res = await fetch(url + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text === '' ? undefined : JSON.parse(text) };
}

export async function get(url: string, path: string): Promise<Reply> {
  const res = await fetch(url + path);
  return { status: res.status, headers: res.headers, body: await res.json() };
}

const DOCS = ['Paris is the capital of France.', 'Berlin is in Germany.', 'The Eiffel Tower is in Paris.'];
export const QUERY = { query: 'capital of France', documents: DOCS };

/** Calls /rerank `n` times in sequence; returns which backend served each call. */
export async function servedBy(url: string, n: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const reply = await post(url, '/rerank', QUERY);
    if (reply.status !== 200) throw new Error(`call ${i} failed: ${reply.status} ${JSON.stringify(reply.body)}`);
    out.push(reply.headers.get('x-reranker-lb-backend')!);
  }
  return out;
}

export function countOf(names: readonly string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const n of names) counts[n] = (counts[n] ?? 0) + 1;
  return counts;
}

export async function stats(url: string): Promise<any> {
  return (await get(url, '/lb/stats')).body;
}

/** Pools started by one test file, closed together by its `after` hook. */
export function poolTracker(): { pool: typeof startPool; closeAll: () => Promise<void> } {
  const started: Pool[] = [];
  return {
    async pool(...args) {
      const p = await startPool(...args);
      started.push(p);
      return p;
    },
    async closeAll() {
      await Promise.all(started.map((p) => p.close()));
    },
  };
}
