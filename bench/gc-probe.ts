/**
 * What one checkout's sidecar does with its young generation under the pinned load (issue 24's GC
 * probe): per scavenge the bytes that survived and were promoted, the pause and the new space's
 * capacity, scavenges per 10,000 calls and mark-compacts (V8's --trace-gc-nvp); with `--alloc`, the bytes
 * allocated per call, by function (V8's sampling heap profiler, collected objects included).
 * Counts and bytes, not times: they hold beside other work, where the pinned A/B's times do not.
 * Run it once per checkout (`--tree`, e.g. a `git worktree add --detach` of the commit before, with
 * its node_modules) and compare.
 *
 * `--idle S`: after the warm-up, S seconds without calls before the counted load (as the arms of
 * pinned-ab wait while the other arms run their rounds).
 *
 *   node bench/gc-probe.ts [--tree DIR] [--rate 500] [--seconds 20] [--idle 0] [--alloc] [--top 30]
 */
import { once } from 'node:events';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { stopAll } from './lib/processes.ts';
import { attack, SHIPPED_NODE_FLAGS, sidecarArm, startBackends, vegetaBin } from './lib/pinned-arms.ts';

const { values } = parseArgs({
  options: {
    tree: { type: 'string' },
    rate: { type: 'string', default: '500' },
    seconds: { type: 'string', default: '20' },
    idle: { type: 'string', default: '0' },
    alloc: { type: 'boolean', default: false },
    top: { type: 'string', default: '30' },
  },
});
const RATE = Number(values.rate);
const SECONDS = Number(values.seconds);
const work = mkdtempSync(join(tmpdir(), 'rrlb-gc-probe-'));
const profileOut = join(work, 'heap.json');
const preload = fileURLToPath(new URL('./lib/heap-sampling-preload.ts', import.meta.url));

interface Sample {
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly selfSize: number;
  readonly children: readonly Sample[];
}

/** Bytes allocated per call by function, the largest `top`. */
function allocations(head: Sample, calls: number, top: number): string[] {
  const byFunction = new Map<string, number>();
  let total = 0;
  const walk = (n: Sample) => {
    const f = n.callFrame;
    const key = `${f.functionName || '(anonymous)'} ${f.url.split('/').slice(-2).join('/')}:${f.lineNumber + 1}`;
    byFunction.set(key, (byFunction.get(key) ?? 0) + n.selfSize);
    total += n.selfSize;
    for (const c of n.children) walk(c);
  };
  walk(head);
  return [
    `allocated: ${(total / calls / 1024).toFixed(1)} KB per call`,
    ...[...byFunction]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([key, bytes]) => `${String(Math.round(bytes / calls)).padStart(8)} B/call  ${key}`),
  ];
}

async function main(): Promise<void> {
  const vegeta = vegetaBin();
  const backends = await startBackends(9661);
  process.env.HEAP_PROFILE_OUT = profileOut; // the sidecar inherits it
  const flags = [...SHIPPED_NODE_FLAGS, '--trace-gc-nvp', ...(values.alloc ? ['--import', preload] : [])];
  const tree = values.tree === undefined ? undefined : resolve(values.tree);
  const arm = await sidecarArm(work, 'sidecar', 9671, backends, {}, flags, tree);
  const scavenges: Record<string, number>[] = [];
  let markCompacts = 0;
  let counting = false;
  let partial = '';
  arm.proc!.child.stdout!.on('data', (chunk: Buffer) => {
    const lines = (partial + chunk.toString()).split('\n');
    partial = lines.pop()!;
    if (!counting) return;
    for (const line of lines) {
      if (/\bgc=mc\b/.test(line)) markCompacts++;
      if (!/\bgc=s\b/.test(line)) continue;
      scavenges.push(Object.fromEntries([...line.matchAll(/([\w.]+)=([\d.]+)/g)].map((m) => [m[1]!, Number(m[2])])));
    }
  });
  await attack(vegeta, work, arm.url, RATE, 3); // warm-up
  await new Promise((r) => setTimeout(r, Number(values.idle) * 1000));
  counting = true;
  if (values.alloc) arm.proc!.child.kill('SIGUSR2');
  const v = await attack(vegeta, work, arm.url, RATE, SECONDS);
  counting = false;
  const calls = RATE * SECONDS; // every call sent is handled (and allocates), answered in time or not
  const mean = (key: string) => scavenges.reduce((s, r) => s + (r[key] ?? 0), 0) / Math.max(1, scavenges.length);
  const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(2);
  console.log(
    `${tree ?? 'this checkout'}: ${RATE} calls/s for ${SECONDS} s, success ${(100 * v.success).toFixed(2)}%, p99 ${v.p99} ms`,
  );
  console.log(
    `scavenges: ${scavenges.length} (${((scavenges.length * 10_000) / calls).toFixed(1)} per 10,000 calls); per scavenge: ` +
      `survived ${mib(mean('new_space_survived'))} MiB, promoted ${mib(mean('promoted'))} MiB, pause ${mean('pause').toFixed(2)} ms, ` +
      `new space ${mib(mean('new_space_capacity'))} MiB (least ${mib(Math.min(...scavenges.map((r) => r.new_space_capacity ?? 0)))}); ` +
      `mark-compacts: ${markCompacts}`,
  );
  if (values.alloc) {
    arm.proc!.child.kill('SIGUSR2');
    await Promise.race([
      once(arm.proc!.child, 'exit'),
      (async () => {
        for (let i = 0; i < 100; i++) {
          try {
            return console.log(
              allocations(JSON.parse(readFileSync(profileOut, 'utf8')).head, calls, Number(values.top)).join('\n'),
            );
          } catch {
            await new Promise((r) => setTimeout(r, 100));
          }
        }
        throw new Error('the heap profile was not written within 10 s');
      })(),
    ]);
  }
}

try {
  await main();
} finally {
  await stopAll();
}
