/**
 * What the pinned method's runners share (bench/pinned.ts, bench/pinned-ab.ts): the cores, the
 * call, vegeta, the fake backends, a sidecar arm and its GC pause count.
 */
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { start, waitForHttp, type Managed } from './processes.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const nodeBin = process.execPath;
export const BALANCER_CORE = '0';
export const LOAD_CORE = '1';
/** The V8 settings the images, the chart, the example and make sidecar ship (see docs/performance.md). */
export const SHIPPED_NODE_FLAGS = ['--max-semi-space-size=8'];

const passages = Array.from({ length: 20 }, (_, i) =>
  `Passage ${i}: rerankers score query-document pairs for retrieval augmented generation. `.repeat(3),
);
/** 7 KB Cohere v1 call: query + 20 passages, top_n 5. */
export const body = JSON.stringify({
  model: 'rerank-v3.5',
  query: 'how do rerankers improve retrieval augmented generation quality',
  documents: passages,
  top_n: 5,
});

export function log(line: string): void {
  process.stderr.write(`[pinned ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
}

export function vegetaBin(): string {
  return execFileSync(join(root, 'bench/setup-vegeta.sh'), {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  }).trim();
}

export interface Arm {
  readonly name: string;
  readonly url: string;
  readonly proc: Managed | undefined;
  readonly gc: GcCounter | undefined;
}

export interface Vegeta {
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  readonly success: number;
  readonly throughput: number;
}

/** `seconds` of open-loop load at `rate` req/s on `url` from core 1, with the call in `work`/body.json. */
export async function attack(
  vegeta: string,
  work: string,
  url: string,
  rate: number,
  seconds: number,
): Promise<Vegeta> {
  const bodyFile = join(work, 'body.json');
  writeFileSync(bodyFile, body);
  const targets = join(work, 'targets.txt');
  writeFileSync(targets, `POST ${url}\nContent-Type: application/json\n@${bodyFile}\n`);
  const results = join(work, `results-${Date.now()}.bin`);
  const atk = start('vegeta', 'taskset', [
    '-c',
    LOAD_CORE,
    vegeta,
    'attack',
    `-targets=${targets}`,
    `-rate=${rate}/s`,
    `-duration=${seconds}s`,
    '-keepalive=true',
    `-output=${results}`,
  ]);
  await once(atk.child, 'exit');
  // maxBuffer: under overload the report lists every distinct error (one per client port), megabytes of it.
  const report = JSON.parse(
    execFileSync(vegeta, ['report', '-type=json', results], { encoding: 'utf8', maxBuffer: 512 * 2 ** 20 }),
  ) as {
    latencies: Record<string, number>;
    success: number;
    throughput: number;
  };
  const ms = (ns: number) => Math.round(ns / 10_000) / 100;
  return {
    p50: ms(report.latencies['50th']!),
    p99: ms(report.latencies['99th']!),
    max: ms(report.latencies.max!),
    success: report.success,
    throughput: Math.round(report.throughput),
  };
}

export interface GcPauses {
  readonly count: number;
  readonly maxMs: number;
  readonly over5ms: number;
}

const GC_LINE = /(Scavenge|Mark-Compact|Mark-Sweep|Minor Mark-Sweep)[^\n]*?MB, ([\d.]+) \/ [\d.]+ ms/;

/** Counts V8's --trace-gc pauses (`Scavenge 5.1 (6.2) -> 4.3 (7.2) MB, 1.23 / 0.00 ms`) as they stream by. */
class GcCounter {
  count = 0;
  maxMs = 0;
  over5ms = 0;
  #partial = '';

  constructor(proc: Managed) {
    proc.child.stdout!.on('data', (chunk: Buffer) => {
      const lines = (this.#partial + chunk.toString()).split('\n');
      this.#partial = lines.pop()!;
      for (const line of lines) {
        const m = GC_LINE.exec(line);
        if (m === null) continue;
        const pause = Number(m[2]);
        this.count++;
        this.maxMs = Math.max(this.maxMs, pause);
        if (pause > 5) this.over5ms++;
      }
    });
  }

  reset(): void {
    this.count = 0;
    this.maxMs = 0;
    this.over5ms = 0;
  }

  snapshot(): GcPauses {
    return { count: this.count, maxMs: Math.round(this.maxMs * 100) / 100, over5ms: this.over5ms };
  }
}

/** Three fake Cohere backends (no scoring cost) on core 1, from `firstPort`. */
export async function startBackends(firstPort = 9601): Promise<string[]> {
  const urls: string[] = [];
  for (let i = 0; i < 3; i++) {
    const port = firstPort + i;
    start(`backend-${i}`, 'taskset', [
      '-c',
      LOAD_CORE,
      nodeBin,
      join(root, 'test/fake-reranker/fake-reranker-cli.ts'),
      '--port',
      String(port),
      '--format',
      'cohere',
      '--scoring',
      'cheap',
    ]);
    urls.push(`http://127.0.0.1:${port}`);
  }
  await Promise.all(urls.map((u) => waitForHttp(`${u}/health`)));
  return urls;
}

/**
 * A sidecar on core 0, round robin over `backends`; `tree` is the checkout whose sidecar runs (default
 * this one), `entry` the program in it (default the sources; `main.mjs` in a scripts/bundle.ts output),
 * `modelExtras` settings added to every model entry (e.g. rpm/tpm for the shared-limits arm).
 */
export async function sidecarArm(
  work: string,
  name: string,
  port: number,
  backends: readonly string[],
  router: Record<string, unknown>,
  nodeFlags: readonly string[],
  tree = root,
  entry = 'sidecar/main.ts',
  modelExtras: Record<string, unknown> = {},
): Promise<Arm> {
  const config = join(work, `sidecar-${port}.yaml`);
  writeFileSync(
    config,
    JSON.stringify({
      model_list: backends.map((url, i) => ({
        model_name: `b${i}`,
        ...modelExtras,
        litellm_params: { api_base: url, api_format: 'cohere' },
      })),
      router_settings: { routing_strategy: 'round-robin', health_check_interval: 5, ...router },
    }),
  );
  const proc = start(name, 'taskset', ['-c', BALANCER_CORE, nodeBin, '--trace-gc', ...nodeFlags, join(tree, entry)], {
    RERANKER_LOAD_BALANCER_ENABLED: 'true',
    RERANKER_CONFIG_PATH: config,
    RERANKER_LB_PORT: String(port),
    RERANKER_LB_HOST: '127.0.0.1',
  });
  await waitForHttp(`http://127.0.0.1:${port}/health`);
  return { name, url: `http://127.0.0.1:${port}/v1/rerank`, proc, gc: new GcCounter(proc) };
}

/** The node floor (bench/node-floor.ts) on core 0; `raw`: its byte-forwarding variant, no JSON work. */
export async function floorArm(port: number, backends: readonly string[], raw = false): Promise<Arm> {
  const proc = start(raw ? 'raw node floor' : 'node floor', 'taskset', [
    '-c',
    BALANCER_CORE,
    nodeBin,
    join(root, 'bench/node-floor.ts'),
    ...(raw ? ['--raw'] : []),
    '--port',
    String(port),
    ...backends.flatMap((b) => ['--backend', b]),
  ]);
  const url = `http://127.0.0.1:${port}/v1/rerank`;
  await waitForHttp(url, 30_000, 'POST', body);
  const name = raw
    ? 'raw node floor (node:http + undici, bytes forwarded both ways)'
    : 'node floor (node:http + undici, one parse/stringify each way)';
  return { name, url, proc, gc: undefined };
}

/** HAProxy, one thread, round robin over `backends`, on core 0 (its config written in `work`). */
export function haproxyArm(work: string, port: number, backends: readonly string[]): Arm {
  const config = join(work, 'haproxy.cfg');
  writeFileSync(
    config,
    [
      'global',
      '  nbthread 1',
      'defaults',
      '  mode http',
      '  timeout connect 2s',
      '  timeout client 30s',
      '  timeout server 30s',
      '  option http-keep-alive',
      'frontend fe',
      `  bind 127.0.0.1:${port}`,
      '  default_backend be',
      'backend be',
      '  balance roundrobin',
      '  http-reuse always',
      ...backends.map((u, i) => `  server b${i} ${new URL(u).host}`),
      '',
    ].join('\n'),
  );
  const proc = start('haproxy', 'taskset', ['-c', BALANCER_CORE, 'haproxy', '-db', '-f', config]);
  return { name: 'HAProxy 1 thread, roundrobin', url: `http://127.0.0.1:${port}/v1/rerank`, proc, gc: undefined };
}
