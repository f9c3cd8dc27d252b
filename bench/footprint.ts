/**
 * What one sidecar costs a pod (make footprint): the sidecar as the image starts it (the bundle
 * and its launcher, scripts/bundle.ts + sidecar/launch.ts), optionally the sources as the image
 * started them before, and the node floor (bench/node-floor.ts, with the heap flags the launcher
 * would give it) each under a memory cgroup at several limits. Per run: start to /ready, the
 * idle and peak working set (usage - inactive file, as the kubelet computes it), OOM kills,
 * success and CPU per call under open-loop load (vegeta, 7 KB Cohere calls). The process under
 * test runs alone on core 0, vegeta and three fake backends on core 1, as in the pinned method.
 * Writes bench/results/footprint-latest.json and the footprint section of docs/performance.md.
 *
 *   node bench/footprint.ts [--limits 64:300,96:1000,128:1000] [--seconds 60] [--arms shipped,before,floor]
 *                           [--starts 7] [--no-write]
 *
 * --starts: cold starts of each sidecar arm at 96 MiB without load, alternating, before the load
 * runs; start to /ready (median, best) and the process's CPU time until then, which a busy
 * machine inflates far less than the wall time.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { execFileSync } from 'node:child_process';
import { heapPlan } from '../sidecar/launch/heap-plan.ts';
import { MemoryCgroup } from './lib/memory-cgroup.ts';
import { start, stopAll, type Managed } from './lib/processes.ts';
import { replaceSection } from './lib/sections.ts';
import { attack, BALANCER_CORE, body, log, startBackends, vegetaBin } from './lib/pinned-arms.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const { values } = parseArgs({
  options: {
    limits: { type: 'string', default: '64:300,96:1000,128:1000' },
    seconds: { type: 'string', default: '60' },
    arms: { type: 'string', default: 'shipped,before,floor' },
    starts: { type: 'string', default: '7' },
    'no-write': { type: 'boolean', default: false },
  },
});
const SECONDS = Number(values.seconds);
const LIMITS = values.limits!.split(',').map((pair) => pair.split(':').map(Number) as [number, number]);
const ARMS = values.arms!.split(',');
const MIB = 2 ** 20;
const work = mkdtempSync(join(tmpdir(), 'rrlb-footprint-'));
const net = process.env.RRLB_E2E_NET ?? '0';

interface Row {
  readonly arm: string;
  readonly limitMib: number;
  readonly rate: number;
  readonly startMs: number | null;
  readonly idleMib: number | null;
  readonly peakMib: number | null;
  readonly oomKills: number;
  /** How the process ended during the run (an OOM kill shows as SIGKILL), null if it survived. */
  readonly exited: string | null;
  readonly success: number;
  readonly cpuMsPerCall: number | null;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

interface ArmSpec {
  readonly name: string;
  readonly command: readonly string[];
  readonly readyUrl: string;
  readonly readyMethod: 'GET' | 'POST';
  readonly url: string;
}

function armSpec(name: string, port: number, limitMib: number, backends: readonly string[], bundle: string): ArmSpec {
  const node = process.execPath;
  const rerank = `http://127.0.0.1:${port}/v1/rerank`;
  const ready = `http://127.0.0.1:${port}/ready`;
  if (name === 'shipped')
    return {
      name: 'sidecar as shipped (bundle + launcher)',
      command: [node, join(bundle, 'launch.mjs')],
      readyUrl: ready,
      readyMethod: 'GET',
      url: rerank,
    };
  if (name === 'before') {
    return {
      name: 'sidecar before (sources, --max-old-space-size-percentage=75)',
      command: [node, '--max-semi-space-size=8', '--max-old-space-size-percentage=75', join(root, 'sidecar/main.ts')],
      readyUrl: ready,
      readyMethod: 'GET',
      url: rerank,
    };
  }
  if (name === 'floor') {
    const plan = heapPlan(limitMib * MIB, []);
    const flags = plan.flags;
    return {
      name: 'node floor (launcher heap flags)',
      command: [
        'env',
        ...Object.entries(plan.env).map(([k, v]) => `${k}=${v}`),
        node,
        ...flags,
        join(root, 'bench/node-floor.ts'),
        '--port',
        String(port),
        ...backends.flatMap((b) => ['--backend', b]),
      ],
      readyUrl: rerank,
      readyMethod: 'POST',
      url: rerank,
    };
  }
  throw new Error(`--arms: unknown arm ${name} (shipped, before, floor)`);
}

/** Milliseconds from spawn until `url` first answers 200, polling every 5 ms; null if it never does. */
async function timeToReady(spec: ArmSpec, proc: Managed, startedAt: number): Promise<number | null> {
  while (performance.now() - startedAt < 30_000) {
    if (proc.child.exitCode !== null || proc.child.signalCode !== null) return null;
    try {
      const res = await fetch(spec.readyUrl, {
        method: spec.readyMethod,
        body: spec.readyMethod === 'POST' ? body : undefined,
        headers: { 'content-type': 'application/json' },
      });
      await res.arrayBuffer();
      if (res.status === 200) return Math.round(performance.now() - startedAt);
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  return null;
}

interface Starts {
  readonly arm: string;
  readonly wallMs: number[];
  readonly cpuMs: number[];
}

/** One cold start at `limitMib` without load: wall and CPU milliseconds until /ready answers 200. */
async function coldStart(
  armName: string,
  limitMib: number,
  backends: readonly string[],
  bundle: string,
  config: string,
): Promise<{ name: string; wallMs: number; cpuMs: number } | undefined> {
  const port = 9661;
  const spec = armSpec(armName, port, limitMib, backends, bundle);
  const cgroup = new MemoryCgroup(`rrlb-footprint-${net}-start`, limitMib * MIB);
  const [cmd, args] = cgroup.wrap(spec.command[0]!, spec.command.slice(1));
  const startedAt = performance.now();
  const proc = start(spec.name, 'taskset', ['-c', BALANCER_CORE, cmd, ...args], {
    RERANKER_LOAD_BALANCER_ENABLED: 'true',
    RERANKER_CONFIG_PATH: config,
    RERANKER_LB_PORT: String(port),
    RERANKER_LB_HOST: '127.0.0.1',
    NODE_OPTIONS: '',
  });
  try {
    const wallMs = await timeToReady(spec, proc, startedAt);
    return wallMs === null ? undefined : { name: spec.name, wallMs, cpuMs: Math.round(proc.cpuSeconds() * 1000) };
  } finally {
    await proc.stop();
    cgroup.remove();
  }
}

const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

async function measure(
  vegeta: string,
  armName: string,
  limitMib: number,
  rate: number,
  backends: readonly string[],
  bundle: string,
  config: string,
): Promise<Row> {
  const port = 9660;
  const spec = armSpec(armName, port, limitMib, backends, bundle);
  const cgroup = new MemoryCgroup(`rrlb-footprint-${net}`, limitMib * MIB);
  const [cmd, args] = cgroup.wrap(spec.command[0]!, spec.command.slice(1));
  const startedAt = performance.now();
  const proc = start(spec.name, 'taskset', ['-c', BALANCER_CORE, cmd, ...args], {
    RERANKER_LOAD_BALANCER_ENABLED: 'true',
    RERANKER_CONFIG_PATH: config,
    RERANKER_LB_PORT: String(port),
    RERANKER_LB_HOST: '127.0.0.1',
    NODE_OPTIONS: '',
  });
  const mib = (bytes: number) => Math.round((bytes / MIB) * 10) / 10;
  try {
    const startMs = await timeToReady(spec, proc, startedAt);
    if (startMs === null) {
      // Killed while starting (the sources under 64 MiB): a row of its own, not the end of the run.
      const exited =
        proc.child.signalCode ?? (proc.child.exitCode === null ? 'not ready in 30 s' : `exit ${proc.child.exitCode}`);
      log(`${spec.name} @ ${limitMib} MiB never became ready (${exited}, OOM kills ${cgroup.oomKills()})`);
      return {
        arm: spec.name,
        limitMib,
        rate,
        startMs: null,
        idleMib: null,
        peakMib: null,
        oomKills: cgroup.oomKills(),
        exited,
        success: 0,
        cpuMsPerCall: null,
        p50Ms: 0,
        p99Ms: 0,
      };
    }
    await new Promise((r) => setTimeout(r, 5_000));
    const idle = cgroup.workingSetBytes();
    // Sampled from the warm-up on: a process killed then has its peak at the limit, not at zero.
    let peak = idle;
    const sampler = setInterval(() => {
      try {
        peak = Math.max(peak, cgroup.workingSetBytes());
      } catch {
        // the cgroup is being torn down
      }
    }, 100);
    await attack(vegeta, work, spec.url, rate, 3); // warm-up: JIT, connections
    const cpuBefore = proc.cpuSeconds();
    const v = await attack(vegeta, work, spec.url, rate, SECONDS);
    clearInterval(sampler);
    const alive = proc.child.exitCode === null && proc.child.signalCode === null;
    const exited = alive ? null : (proc.child.signalCode ?? `exit ${proc.child.exitCode}`);
    if (!alive)
      log(
        `${spec.name} @ ${limitMib} MiB ended (${exited}): ${proc
          .output()
          .split('\n')
          .filter((l) => !l.startsWith('{'))
          .join('\n')
          .slice(-1500)}`,
      );
    const calls = Math.max(1, v.success * rate * SECONDS);
    const row: Row = {
      arm: spec.name,
      limitMib,
      rate,
      startMs,
      idleMib: mib(idle),
      peakMib: mib(peak),
      oomKills: cgroup.oomKills(),
      exited,
      success: v.success,
      cpuMsPerCall: alive ? Math.round(((proc.cpuSeconds() - cpuBefore) * 1e6) / calls) / 1000 : null,
      p50Ms: v.p50,
      p99Ms: v.p99,
    };
    log(
      `${spec.name} @ ${limitMib} MiB, ${rate} req/s: start ${startMs} ms, idle ${row.idleMib} MiB, peak ${row.peakMib} MiB, OOM kills ${row.oomKills}${exited === null ? '' : ` (ended: ${exited})`}, success ${(v.success * 100).toFixed(2)}%, CPU ${row.cpuMsPerCall} ms/call, p99 ${v.p99} ms`,
    );
    return row;
  } finally {
    await proc.stop();
    cgroup.remove();
  }
}

function markdown(rows: readonly Row[], starts: readonly Starts[], machine: string): string {
  const cell = (x: number | null, unit = '') => (x === null ? '-' : `${x}${unit}`);
  return [
    `Cold starts at 96 MiB without load (${values.starts} each, alternating; wall time from spawn until \`/ready\` answers 200, and the process's CPU time until then):`,
    '',
    '| arm | start to /ready, median ms | best ms | CPU until ready, median ms |',
    '|---|---|---|---|',
    ...starts.map((s) => `| ${s.arm} | ${median(s.wallMs)} | ${Math.min(...s.wallMs)} | ${median(s.cpuMs)} |`),
    '',
    `\`make footprint\` (\`node bench/footprint.ts --seconds ${SECONDS}\`), ${new Date().toISOString().slice(0, 16)} UTC, ${machine}.`,
    'Each process runs alone on core 0 in a memory cgroup of the given limit; vegeta and three fake backends on core 1.',
    'Working set = cgroup usage - inactive file pages (what the kubelet compares with the limit); idle is 5 s after /ready;',
    "peak is sampled every 100 ms during the load. CPU per call is the process's user + system time divided by the calls served.",
    '',
    '| arm | limit MiB | load req/s | start to ready ms | idle working set MiB | peak MiB | OOM kills | ended | success | CPU ms/call | p50 ms | p99 ms |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|',
    ...rows.map(
      (r) =>
        `| ${r.arm} | ${r.limitMib} | ${r.rate} | ${cell(r.startMs)} | ${cell(r.idleMib)} | ${cell(r.peakMib)} | ${r.oomKills} | ${r.exited ?? 'no'} | ${(r.success * 100).toFixed(2)}% | ${cell(r.cpuMsPerCall)} | ${r.p50Ms} | ${r.p99Ms} |`,
    ),
    '',
  ].join('\n');
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('make footprint creates memory cgroups: run it as root');
  const vegeta = vegetaBin();
  const bundle = join(work, 'bundle');
  execFileSync(process.execPath, [join(root, 'scripts/bundle.ts'), bundle], { stdio: 'inherit' });
  const backends = await startBackends(9651);
  const config = join(work, 'sidecar.json');
  writeFileSync(
    config,
    JSON.stringify({
      model_list: backends.map((url, i) => ({
        model_name: `b${i}`,
        litellm_params: { api_base: url, api_format: 'cohere' },
      })),
      router_settings: { routing_strategy: 'round-robin', health_check_interval: 5 },
    }),
  );
  const starts = new Map<string, Starts>();
  const sidecarArms = ARMS.filter((a) => a !== 'floor');
  for (let i = 0; i < Number(values.starts); i++) {
    for (const arm of i % 2 === 0 ? sidecarArms : [...sidecarArms].reverse()) {
      const s = await coldStart(arm, 96, backends, bundle, config);
      if (s === undefined) continue;
      const entry = starts.get(s.name) ?? { arm: s.name, wallMs: [], cpuMs: [] };
      entry.wallMs.push(s.wallMs);
      entry.cpuMs.push(s.cpuMs);
      starts.set(s.name, entry);
    }
  }
  for (const s of starts.values())
    log(
      `${s.arm}: start to /ready median ${median(s.wallMs)} ms (best ${Math.min(...s.wallMs)}), CPU until then median ${median(s.cpuMs)} ms`,
    );
  const rows: Row[] = [];
  for (const [limitMib, rate] of LIMITS) {
    for (const arm of ARMS) rows.push(await measure(vegeta, arm, limitMib, rate, backends, bundle, config));
  }
  if (values['no-write']) return;
  const machine = `${cpus().length} x ${cpus()[0]?.model ?? 'unknown'}, Node ${process.version}`;
  writeFileSync(
    join(root, 'bench/results/footprint-latest.json'),
    `${JSON.stringify({ machine, date: new Date().toISOString(), seconds: SECONDS, starts: [...starts.values()], rows }, null, 2)}\n`,
  );
  const docs = join(root, 'docs/performance.md');
  writeFileSync(
    docs,
    replaceSection(readFileSync(docs, 'utf8'), 'footprint', markdown(rows, [...starts.values()], machine)),
  );
  log('wrote bench/results/footprint-latest.json and the footprint section of docs/performance.md');
}

try {
  await main();
} finally {
  await stopAll();
}
