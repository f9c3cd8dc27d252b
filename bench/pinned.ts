/**
 * The pinned method (make bench): the balancer under test alone on core 0; the three fake backends
 * (Cohere format, no scoring cost) and vegeta (open-loop, constant rate) on core 1. Each arm at
 * 1,000 req/s with 7 KB Cohere v1 bodies (query + 20 passages, top_n 5); CPU per call from
 * /proc/<pid>/stat; for the sidecar arms, V8's --trace-gc pauses and RSS at idle and under load.
 * Writes bench/results/pinned-latest.json and the pinned section of docs/benchmarks.md.
 *
 *   node bench/pinned.ts [--seconds 20] [--gc-seconds 60] [--rate 1000]
 */
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { start, stopAll, waitForHttp, type Managed } from './lib/processes.ts';
import { replaceSection } from './lib/sections.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const { values } = parseArgs({ options: { seconds: { type: 'string', default: '20' }, 'gc-seconds': { type: 'string', default: '60' }, rate: { type: 'string', default: '1000' } } });
const SECONDS = Number(values.seconds);
const GC_SECONDS = Number(values['gc-seconds']);
const RATE = Number(values.rate);
const nodeBin = process.execPath;
const work = mkdtempSync(join(tmpdir(), 'rrlb-pinned-'));
const BALANCER_CORE = '0';
const LOAD_CORE = '1';
/** The V8 settings the images, the chart, the example and make sidecar ship (see docs/performance.md). */
export const SHIPPED_NODE_FLAGS = ['--max-semi-space-size=2'];

const passages = Array.from({ length: 20 }, (_, i) => `Passage ${i}: rerankers score query-document pairs for retrieval augmented generation. `.repeat(3));
const body = JSON.stringify({ model: 'rerank-v3.5', query: 'how do rerankers improve retrieval augmented generation quality', documents: passages, top_n: 5 });
const bodyFile = join(work, 'body.json');
writeFileSync(bodyFile, body);

function log(line: string): void {
  process.stderr.write(`[pinned ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
}

function vegetaBin(): string {
  return execFileSync(join(root, 'bench/setup-vegeta.sh'), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
}

interface Arm {
  readonly name: string;
  readonly url: string;
  readonly proc: Managed | undefined;
  readonly gc: GcCounter | undefined;
}

interface Vegeta {
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  readonly success: number;
  readonly throughput: number;
}

async function attack(vegeta: string, url: string, seconds: number): Promise<Vegeta> {
  const targets = join(work, 'targets.txt');
  writeFileSync(targets, `POST ${url}\nContent-Type: application/json\n@${bodyFile}\n`);
  const results = join(work, `results-${Date.now()}.bin`);
  const atk = start('vegeta', 'taskset', ['-c', LOAD_CORE, vegeta, 'attack', `-targets=${targets}`, `-rate=${RATE}/s`, `-duration=${seconds}s`, '-keepalive=true', `-output=${results}`]);
  await once(atk.child, 'exit');
  const report = JSON.parse(execFileSync(vegeta, ['report', '-type=json', results], { encoding: 'utf8' })) as {
    latencies: Record<string, number>;
    success: number;
    throughput: number;
  };
  const ms = (ns: number) => Math.round(ns / 10_000) / 100;
  return { p50: ms(report.latencies['50th']!), p99: ms(report.latencies['99th']!), max: ms(report.latencies.max!), success: report.success, throughput: Math.round(report.throughput) };
}

interface GcPauses {
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

async function startBackends(): Promise<string[]> {
  const urls: string[] = [];
  for (let i = 0; i < 3; i++) {
    const port = 9601 + i;
    start(`backend-${i}`, 'taskset', ['-c', LOAD_CORE, nodeBin, join(root, 'test/fake-reranker/fake-reranker-cli.ts'), '--port', String(port), '--format', 'cohere', '--scoring', 'cheap']);
    urls.push(`http://127.0.0.1:${port}`);
  }
  await Promise.all(urls.map((u) => waitForHttp(`${u}/health`)));
  return urls;
}

async function sidecarArm(name: string, port: number, backends: readonly string[], router: Record<string, unknown>, nodeFlags: readonly string[]): Promise<Arm> {
  const config = join(work, `sidecar-${port}.yaml`);
  writeFileSync(
    config,
    JSON.stringify({
      model_list: backends.map((url, i) => ({ model_name: `b${i}`, litellm_params: { api_base: url, api_format: 'cohere' } })),
      router_settings: { routing_strategy: 'round-robin', health_check_interval: 5, ...router },
    }),
  );
  const proc = start(name, 'taskset', ['-c', BALANCER_CORE, nodeBin, '--trace-gc', ...nodeFlags, join(root, 'sidecar/main.ts')], {
    RERANKER_LOAD_BALANCER_ENABLED: 'true',
    RERANKER_CONFIG_PATH: config,
    RERANKER_LB_PORT: String(port),
    RERANKER_LB_HOST: '127.0.0.1',
  });
  await waitForHttp(`http://127.0.0.1:${port}/health`);
  return { name, url: `http://127.0.0.1:${port}/v1/rerank`, proc, gc: new GcCounter(proc) };
}

function haproxyArm(port: number, backends: readonly string[]): Arm {
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

interface Row {
  readonly arm: string;
  readonly seconds: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  readonly success: number;
  readonly cpuMsPerCall: number | null;
  readonly callsPerCoreSecond: number | null;
  readonly rssIdleMb: number | null;
  readonly rssLoadMb: number | null;
  readonly gc: GcPauses | null;
}

async function run(vegeta: string, arm: Arm, seconds: number): Promise<Row> {
  await attack(vegeta, arm.url, 3); // warm-up: JIT, connections
  const rssIdle = arm.proc?.rssBytes() ?? 0;
  arm.gc?.reset();
  const cpuBefore = arm.proc?.cpuSeconds() ?? 0;
  let rssPeak = 0;
  const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, arm.proc?.rssBytes() ?? 0)), 500);
  const v = await attack(vegeta, arm.url, seconds);
  clearInterval(sampler);
  const cpu = (arm.proc?.cpuSeconds() ?? 0) - cpuBefore;
  const calls = Math.max(1, Math.round(v.throughput * seconds));
  const cpuMs = arm.proc === undefined ? null : Math.round(((cpu * 1000) / calls) * 1000) / 1000;
  const mb = (bytes: number) => Math.round(bytes / 2 ** 20);
  const row: Row = {
    arm: arm.name,
    seconds,
    p50Ms: v.p50,
    p99Ms: v.p99,
    maxMs: v.max,
    success: v.success,
    cpuMsPerCall: cpuMs,
    callsPerCoreSecond: cpuMs === null || cpuMs === 0 ? null : Math.round(1000 / cpuMs),
    rssIdleMb: arm.proc === undefined ? null : mb(rssIdle),
    rssLoadMb: arm.proc === undefined ? null : mb(rssPeak),
    gc: arm.gc?.snapshot() ?? null,
  };
  log(`${arm.name}: p50 ${row.p50Ms} ms, p99 ${row.p99Ms} ms, CPU ${row.cpuMsPerCall} ms/call, success ${row.success}${row.gc === null ? '' : `, GC max ${row.gc.maxMs} ms, >5 ms: ${row.gc.over5ms}`}`);
  return row;
}

function targets(rows: readonly Row[]): { target: string; value: string; met: boolean }[] {
  const by = (name: string) => rows.find((r) => r.arm.startsWith(name))!;
  const floor = by('node floor');
  const haproxy = by('HAProxy');
  const shipped = by('sidecar, shipped defaults');
  const cpu = shipped.cpuMsPerCall ?? Infinity;
  return [
    { target: 'CPU per call <= 1.25x the node floor', value: `${(cpu / floor.cpuMsPerCall!).toFixed(2)}x (${cpu} vs ${floor.cpuMsPerCall} ms)`, met: cpu <= 1.25 * floor.cpuMsPerCall! },
    { target: "CPU per call <= 3x HAProxy's", value: `${(cpu / haproxy.cpuMsPerCall!).toFixed(2)}x (${cpu} vs ${haproxy.cpuMsPerCall} ms)`, met: cpu <= 3 * haproxy.cpuMsPerCall! },
    { target: "added p99 (default config, logging on) <= HAProxy's p99 + 2 ms", value: `${shipped.p99Ms} ms vs ${haproxy.p99Ms} ms (+${(shipped.p99Ms - haproxy.p99Ms).toFixed(2)} ms)`, met: shipped.p99Ms <= haproxy.p99Ms + 2 },
    { target: `no GC pause over 5 ms in ${GC_SECONDS} s at ${RATE} req/s`, value: `${shipped.gc?.over5ms} pauses over 5 ms; longest ${shipped.gc?.maxMs} ms`, met: (shipped.gc?.over5ms ?? 1) === 0 },
    { target: `RSS <= 90 MB under ${RATE} req/s`, value: `${shipped.rssLoadMb} MB`, met: (shipped.rssLoadMb ?? Infinity) <= 90 },
    { target: 'RSS <= 60 MB idle', value: `${shipped.rssIdleMb} MB`, met: (shipped.rssIdleMb ?? Infinity) <= 60 },
  ];
}

function markdown(rows: readonly Row[], machine: string): string {
  const t = targets(rows);
  const lines = [
    '## Pinned method: the balancer alone on one core',
    '',
    `\`make bench\` (\`node bench/pinned.ts\`), ${new Date().toISOString().slice(0, 10)}, ${machine}. The balancer under test runs alone on core ${BALANCER_CORE} (\`taskset\`); the three`,
    `fake backends (Cohere format, no scoring cost) and vegeta (open loop, ${RATE} req/s) share core ${LOAD_CORE}. 7 KB Cohere v1 bodies`,
    `(query + 20 passages, top_n 5); ${SECONDS} s per arm after a 3 s warm-up (${GC_SECONDS} s for the shipped sidecar, whose GC pauses are counted).`,
    'CPU per call is the process\'s user + system time from /proc divided by the calls; calls per core-second is its inverse.',
    '',
    '| arm | p50 ms | p99 ms | max ms | success | CPU ms/call | calls per core-second | RSS idle MB | RSS under load MB | GC pauses (max ms, > 5 ms) |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...rows.map(
      (r) =>
        `| ${r.arm} | ${r.p50Ms} | ${r.p99Ms} | ${r.maxMs} | ${(r.success * 100).toFixed(1)}% | ${r.cpuMsPerCall ?? '-'} | ${r.callsPerCoreSecond ?? '-'} | ${r.rssIdleMb ?? '-'} | ${r.rssLoadMb ?? '-'} | ${r.gc === null ? '-' : `${r.gc.count} (${r.gc.maxMs}, ${r.gc.over5ms})`} |`,
    ),
    '',
    '| target | measured | met |',
    '|---|---|---|',
    ...t.map((x) => `| ${x.target} | ${x.value} | ${x.met ? 'met' : '**missed**'} |`),
    '',
  ];
  return lines.join('\n');
}

async function main(): Promise<void> {
  if (cpus().length < 2) throw new Error('the pinned method needs two cores');
  const vegeta = vegetaBin();
  const backends = await startBackends();
  const rows: Row[] = [];
  const arms: [Arm, number][] = [];
  arms.push([{ name: 'direct to one backend', url: `${backends[0]}/v1/rerank`, proc: undefined, gc: undefined }, SECONDS]);
  const ha = haproxyArm(9610, backends);
  await waitForHttp(ha.url, 30_000, 'POST', body);
  arms.push([ha, SECONDS]);
  const floor = start('node floor', 'taskset', ['-c', BALANCER_CORE, nodeBin, join(root, 'bench/node-floor.ts'), '--port', '9611', ...backends.flatMap((b) => ['--backend', b])]);
  await waitForHttp('http://127.0.0.1:9611/v1/rerank', 30_000, 'POST', body);
  arms.push([{ name: 'node floor (node:http + undici, one parse/stringify each way)', url: 'http://127.0.0.1:9611/v1/rerank', proc: floor, gc: undefined }, SECONDS]);
  arms.push([await sidecarArm('sidecar, logging off, V8 defaults', 9612, backends, { enable_request_logging: false }, []), SECONDS]);
  arms.push([await sidecarArm('sidecar, default config, V8 defaults', 9613, backends, {}, []), SECONDS]);
  arms.push([await sidecarArm(`sidecar, shipped defaults (logging on, ${SHIPPED_NODE_FLAGS.join(' ')})`, 9614, backends, {}, SHIPPED_NODE_FLAGS), GC_SECONDS]);
  for (const [arm, seconds] of arms) rows.push(await run(vegeta, arm, seconds));
  const machine = `${cpus().length} x ${cpus()[0]?.model ?? 'unknown'}, Node ${process.version}, ${execFileSync('haproxy', ['-v'], { encoding: 'utf8' }).split('\n')[0]}`;
  writeFileSync(join(root, 'bench/results/pinned-latest.json'), `${JSON.stringify({ machine, date: new Date().toISOString(), rate: RATE, rows, targets: targets(rows) }, null, 2)}\n`);
  const docs = join(root, 'docs/benchmarks.md');
  writeFileSync(docs, replaceSection(readFileSync(docs, 'utf8'), 'pinned', markdown(rows, machine)));
  log('wrote bench/results/pinned-latest.json and the pinned section of docs/benchmarks.md');
}

try {
  await main();
} finally {
  await stopAll();
}
