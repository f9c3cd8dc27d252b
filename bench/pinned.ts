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
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { stopAll, waitForHttp } from './lib/processes.ts';
import { replaceSection } from './lib/sections.ts';
import {
  attack,
  BALANCER_CORE,
  body,
  floorArm,
  haproxyArm,
  LOAD_CORE,
  log,
  SHIPPED_NODE_FLAGS,
  sidecarArm,
  startBackends,
  vegetaBin,
  type Arm,
  type GcPauses,
} from './lib/pinned-arms.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '20' },
    'gc-seconds': { type: 'string', default: '60' },
    rate: { type: 'string', default: '1000' },
  },
});
const SECONDS = Number(values.seconds);
const GC_SECONDS = Number(values['gc-seconds']);
const RATE = Number(values.rate);
const work = mkdtempSync(join(tmpdir(), 'rrlb-pinned-'));

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
  await attack(vegeta, work, arm.url, RATE, 3); // warm-up: JIT, connections
  const rssIdle = arm.proc?.rssBytes() ?? 0;
  arm.gc?.reset();
  const cpuBefore = arm.proc?.cpuSeconds() ?? 0;
  let rssPeak = 0;
  const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, arm.proc?.rssBytes() ?? 0)), 500);
  const v = await attack(vegeta, work, arm.url, RATE, seconds);
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
  log(
    `${arm.name}: p50 ${row.p50Ms} ms, p99 ${row.p99Ms} ms, CPU ${row.cpuMsPerCall} ms/call, success ${row.success}${row.gc === null ? '' : `, GC max ${row.gc.maxMs} ms, >5 ms: ${row.gc.over5ms}`}`,
  );
  return row;
}

function targets(rows: readonly Row[]): { target: string; value: string; met: boolean }[] {
  const by = (name: string) => rows.find((r) => r.arm.startsWith(name))!;
  const floor = by('node floor');
  const haproxy = by('HAProxy');
  const shipped = by('sidecar, shipped defaults');
  const cpu = shipped.cpuMsPerCall ?? Infinity;
  return [
    {
      target: 'CPU per call <= 1.25x the node floor',
      value: `${(cpu / floor.cpuMsPerCall!).toFixed(2)}x (${cpu} vs ${floor.cpuMsPerCall} ms)`,
      met: cpu <= 1.25 * floor.cpuMsPerCall!,
    },
    {
      target: "CPU per call <= 3x HAProxy's",
      value: `${(cpu / haproxy.cpuMsPerCall!).toFixed(2)}x (${cpu} vs ${haproxy.cpuMsPerCall} ms)`,
      met: cpu <= 3 * haproxy.cpuMsPerCall!,
    },
    {
      target: "added p99 (default config, logging on) <= HAProxy's p99 + 2 ms",
      value: `${shipped.p99Ms} ms vs ${haproxy.p99Ms} ms (+${(shipped.p99Ms - haproxy.p99Ms).toFixed(2)} ms)`,
      met: shipped.p99Ms <= haproxy.p99Ms + 2,
    },
    {
      target: `no GC pause over 5 ms in ${GC_SECONDS} s at ${RATE} req/s`,
      value: `${shipped.gc?.over5ms} pauses over 5 ms; longest ${shipped.gc?.maxMs} ms`,
      met: (shipped.gc?.over5ms ?? 1) === 0,
    },
    {
      target: `RSS <= 90 MB under ${RATE} req/s`,
      value: `${shipped.rssLoadMb} MB`,
      met: (shipped.rssLoadMb ?? Infinity) <= 90,
    },
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
    "CPU per call is the process's user + system time from /proc divided by the calls; calls per core-second is its inverse.",
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
  arms.push([
    { name: 'direct to one backend', url: `${backends[0]}/v1/rerank`, proc: undefined, gc: undefined },
    SECONDS,
  ]);
  const ha = haproxyArm(work, 9610, backends);
  await waitForHttp(ha.url, 30_000, 'POST', body);
  arms.push([ha, SECONDS]);
  arms.push([await floorArm(9611, backends), SECONDS]);
  arms.push([
    await sidecarArm(work, 'sidecar, logging off, V8 defaults', 9612, backends, { enable_request_logging: false }, []),
    SECONDS,
  ]);
  arms.push([await sidecarArm(work, 'sidecar, default config, V8 defaults', 9613, backends, {}, []), SECONDS]);
  arms.push([
    await sidecarArm(
      work,
      `sidecar, shipped defaults (logging on, ${SHIPPED_NODE_FLAGS.join(' ')})`,
      9614,
      backends,
      {},
      SHIPPED_NODE_FLAGS,
    ),
    GC_SECONDS,
  ]);
  for (const [arm, seconds] of arms) rows.push(await run(vegeta, arm, seconds));
  const machine = `${cpus().length} x ${cpus()[0]?.model ?? 'unknown'}, Node ${process.version}, ${execFileSync('haproxy', ['-v'], { encoding: 'utf8' }).split('\n')[0]}`;
  writeFileSync(
    join(root, 'bench/results/pinned-latest.json'),
    `${JSON.stringify({ machine, date: new Date().toISOString(), rate: RATE, rows, targets: targets(rows) }, null, 2)}\n`,
  );
  const docs = join(root, 'docs/benchmarks.md');
  writeFileSync(docs, replaceSection(readFileSync(docs, 'utf8'), 'pinned', markdown(rows, machine)));
  log('wrote bench/results/pinned-latest.json and the pinned section of docs/benchmarks.md');
}

try {
  await main();
} finally {
  await stopAll();
}
