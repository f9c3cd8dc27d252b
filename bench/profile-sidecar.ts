/**
 * Where the sidecar's CPU per call goes: the sidecar as the image runs it (scripts/bundle.ts +
 * launch.mjs, default config, logging on) alone on core 0 under `node --cpu-prof`, vegeta and three
 * fake Cohere backends on core 1 (the pinned method), `--rate` req/s of 7 KB calls for `--seconds`.
 * Prints self time by where the code comes from (our sources, each dependency, Node, native), then
 * the functions with the most self time and the most inclusive time, as shares of the busy
 * (non-idle) samples taken after the warm-up; keeps the .cpuprofile for a closer look. V8 counts a
 * builtin's time (JSON.parse, JSON.stringify) as its caller's self time. `--sources` profiles the
 * TypeScript sources (with the shipped V8 flags) instead of the bundle: slower to start, but every
 * function keeps its file and line. `--tree DIR` (with `--sources`) profiles another checkout's
 * sources, e.g. the commit before a change (a `git worktree add --detach` with its node_modules).
 *
 *   node bench/profile-sidecar.ts [--sources [--tree DIR]] [--seconds 20] [--rate 1000] [--top 40]
 */
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { stopAll } from './lib/processes.ts';
import { attack, log, SHIPPED_NODE_FLAGS, sidecarArm, startBackends, vegetaBin } from './lib/pinned-arms.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '20' },
    rate: { type: 'string', default: '1000' },
    top: { type: 'string', default: '40' },
    sources: { type: 'boolean', default: false },
    tree: { type: 'string' },
  },
});
if (values.tree !== undefined && !values.sources) throw new Error('--tree: profiles sources, so it needs --sources');
const work = mkdtempSync(join(tmpdir(), 'rrlb-profile-'));

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly children?: readonly number[];
}
interface Profile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

const IDLE = new Set(['(idle)', '(program)', '(garbage collector)']);

/** Where a function's code comes from: a dependency, a directory of ours, Node, or V8/native. */
function origin(frame: ProfileNode['callFrame']): string {
  const url = frame.url;
  const dependency = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (dependency !== null) return dependency[1]!;
  if (url.startsWith('node:') || /^(internal|events|streams|process|timers|buffer)\//.test(url)) return 'node';
  if (url === '') return frame.functionName.startsWith('(') ? frame.functionName : 'native (syscalls, builtins)';
  const ours = /\/(sidecar\/[^/]+|common)\/[^/]*$/.exec(url) ?? /\/(sidecar\/[^/]+)\//.exec(url);
  if (ours !== null) return ours[1]!;
  return url.split('/').slice(-1)[0]!;
}

/** Self and inclusive sample counts per function, over the samples after `skipUs` µs of the profile. */
function tally(profile: Profile, skipUs: number, top: number): void {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const name = (n: ProfileNode) =>
    `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url.split('/').slice(-2).join('/')}:${n.callFrame.lineNumber + 1}`;
  const self = new Map<string, number>();
  const origins = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let busy = 0;
  let idle = 0;
  let gc = 0;
  let t = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i]!;
    if (t < skipUs) continue;
    const leaf = byId.get(profile.samples[i]!)!;
    const leafName = leaf.callFrame.functionName;
    if (leafName === '(idle)') {
      idle++;
      continue;
    }
    busy++;
    if (leafName === '(garbage collector)') gc++;
    self.set(name(leaf), (self.get(name(leaf)) ?? 0) + 1);
    origins.set(origin(leaf.callFrame), (origins.get(origin(leaf.callFrame)) ?? 0) + 1);
    const seen = new Set<string>();
    for (let id: number | undefined = leaf.id; id !== undefined; id = parent.get(id)) {
      const n = byId.get(id)!;
      if (IDLE.has(n.callFrame.functionName) || n.callFrame.functionName === '(root)') continue;
      const key = name(n);
      if (seen.has(key)) continue;
      seen.add(key);
      inclusive.set(key, (inclusive.get(key) ?? 0) + 1);
    }
  }
  const pct = (n: number) => `${((n * 100) / busy).toFixed(1)}%`;
  console.log(`busy samples ${busy} (idle ${idle}); garbage collector ${pct(gc)} of busy`);
  const list = (title: string, m: Map<string, number>) => {
    console.log(`\n${title}`);
    for (const [k, v] of [...m].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${pct(v).padStart(6)}  ${k}`);
  };
  list('self time by origin', origins);
  list('self time', self);
  list('inclusive time', inclusive);
}

async function main(): Promise<void> {
  const vegeta = vegetaBin();
  const bundle = join(work, 'bundle');
  if (!values.sources) {
    execFileSync(process.execPath, [join(root, 'scripts/bundle.ts'), bundle], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
  }
  const backends = await startBackends(9661);
  const dir = join(work, 'profile');
  const spawned = Date.now();
  const profiler = ['--cpu-prof', `--cpu-prof-dir=${dir}`];
  const arm = values.sources
    ? await sidecarArm(work, 'sidecar', 9671, backends, {}, [...profiler, ...SHIPPED_NODE_FLAGS], values.tree ?? root)
    : await sidecarArm(work, 'sidecar', 9671, backends, {}, profiler, bundle, 'launch.mjs');
  await attack(vegeta, work, arm.url, Number(values.rate), 3); // warm-up: JIT, connections
  const skipUs = (Date.now() - spawned) * 1000;
  const before = arm.proc!.cpuSeconds();
  const v = await attack(vegeta, work, arm.url, Number(values.rate), Number(values.seconds));
  const cpuMs = ((arm.proc!.cpuSeconds() - before) * 1000) / Math.max(1, v.throughput * Number(values.seconds));
  log(`CPU ${cpuMs.toFixed(3)} ms/call (under the profiler), p50 ${v.p50} ms, p99 ${v.p99} ms, success ${v.success}`);
  arm.proc!.child.kill('SIGTERM'); // the profile is written on a clean exit
  await once(arm.proc!.child, 'exit');
  const file = join(dir, readdirSync(dir)[0]!);
  log(`profile: ${file}`);
  tally(JSON.parse(readFileSync(file, 'utf8')) as Profile, skipUs, Number(values.top));
}

try {
  await main();
} finally {
  await stopAll();
}
