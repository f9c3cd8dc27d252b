/**
 * Before/after on the pinned method: the node floor and the sidecars of two checkouts (A, B) are
 * measured in alternating rounds (floor, A, B, then B, A, floor, ...), so the drift of a shared VM
 * falls on both sides alike. Each sidecar runs the shipped defaults (logging on, the shipped V8
 * flags unless overridden). Prints CPU per call, p50/p99 and GC pauses per round and the means;
 * writes nothing.
 *
 *   node bench/pinned-ab.ts --a /tmp/before [--b .] [--rounds 3] [--seconds 20] [--rate 1000]
 *                           [--a-flags=--max-semi-space-size=2] [--b-flags=...]
 *                           [--a-entry=sidecar/main.ts] [--b-entry=main.mjs]
 *
 * A copy of the code before, for A: `mkdir /tmp/before && git archive HEAD~1 | tar -x -C /tmp/before &&
 * ln -s "$PWD/node_modules" /tmp/before/node_modules`. The bundle the image runs, for B:
 * `node scripts/bundle.ts /tmp/bundle` then `--b /tmp/bundle --b-entry main.mjs`.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { stopAll } from './lib/processes.ts';
import {
  attack,
  floorArm,
  SHIPPED_NODE_FLAGS,
  sidecarArm,
  startBackends,
  vegetaBin,
  type Arm,
} from './lib/pinned-arms.ts';

const { values } = parseArgs({
  options: {
    a: { type: 'string' },
    b: { type: 'string', default: '.' },
    'a-flags': { type: 'string', default: SHIPPED_NODE_FLAGS.join(' ') },
    'b-flags': { type: 'string', default: SHIPPED_NODE_FLAGS.join(' ') },
    'a-entry': { type: 'string', default: 'sidecar/main.ts' },
    'b-entry': { type: 'string', default: 'sidecar/main.ts' },
    rounds: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '20' },
    rate: { type: 'string', default: '1000' },
  },
});
if (values.a === undefined) throw new Error('--a: the checkout to compare against is required');
const SECONDS = Number(values.seconds);
const RATE = Number(values.rate);
const work = mkdtempSync(join(tmpdir(), 'rrlb-pinned-ab-'));
const flags = (text: string) => text.split(' ').filter((f) => f !== '');

interface Round {
  readonly cpuMs: number;
  readonly p50: number;
  readonly p99: number;
  readonly gc: string;
}

function label(arm: Arm): string {
  return arm.gc === undefined ? 'floor' : arm.name;
}

async function measure(vegeta: string, arm: Arm): Promise<Round> {
  await attack(vegeta, work, arm.url, RATE, 3); // warm-up
  arm.gc?.reset();
  const before = arm.proc!.cpuSeconds();
  const v = await attack(vegeta, work, arm.url, RATE, SECONDS);
  const cpuMs = ((arm.proc!.cpuSeconds() - before) * 1000) / Math.max(1, v.throughput * SECONDS);
  const gc = arm.gc?.snapshot();
  // A starved round (a shared machine) is reported, not fatal: its CPU per call still counts the calls served.
  const failed = v.success < 1 ? `, success ${(v.success * 100).toFixed(2)}%` : '';
  return {
    cpuMs,
    p50: v.p50,
    p99: v.p99,
    gc: `${gc === undefined ? '' : `GC pauses ${gc.count}, longest ${gc.maxMs} ms, ${gc.over5ms} over 5 ms`}${failed}`,
  };
}

async function main(): Promise<void> {
  const vegeta = vegetaBin();
  const backends = await startBackends(9621);
  const arms = [
    await floorArm(9631, backends),
    await sidecarArm(work, 'A', 9632, backends, {}, flags(values['a-flags']!), resolve(values.a!), values['a-entry']),
    await sidecarArm(work, 'B', 9633, backends, {}, flags(values['b-flags']!), resolve(values.b!), values['b-entry']),
  ];
  const rounds = new Map<string, Round[]>(arms.map((a) => [a.name, []]));
  for (let r = 0; r < Number(values.rounds); r++) {
    for (const arm of r % 2 === 0 ? arms : [...arms].reverse()) {
      const m = await measure(vegeta, arm);
      rounds.get(arm.name)!.push(m);
      console.log(
        `round ${r + 1} ${label(arm)}: CPU ${m.cpuMs.toFixed(3)} ms/call, p50 ${m.p50} ms, p99 ${m.p99} ms${m.gc === '' ? '' : `, ${m.gc}`}`,
      );
    }
  }
  const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
  const floor = mean(rounds.get(arms[0]!.name)!.map((m) => m.cpuMs));
  for (const arm of arms) {
    const ms = rounds.get(arm.name)!;
    const cpu = mean(ms.map((m) => m.cpuMs));
    console.log(
      `${label(arm)}: CPU mean ${cpu.toFixed(3)} ms/call (${(cpu / floor).toFixed(2)}x the floor) [${ms.map((m) => m.cpuMs.toFixed(3)).join(', ')}], p99 [${ms.map((m) => m.p99).join(', ')}]`,
    );
  }
}

try {
  await main();
} finally {
  await stopAll();
}
