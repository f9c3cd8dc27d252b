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
 * The position matters, whatever the code: on 2026-12-03 the same checkout made ~25% more GC
 * pauses per round, ~4-10% more CPU per call and a higher p99 as B than as A (`--a . --b .`).
 * Compare two checkouts in both orders (`--a X --b Y`, then `--a Y --b X`) and read each
 * against the other in the same position.
 *
 * A copy of the code before, for A: `mkdir /tmp/before && git archive HEAD~1 | tar -x -C /tmp/before &&
 * ln -s "$PWD/node_modules" /tmp/before/node_modules`. The bundle the image runs, for B:
 * `node scripts/bundle.ts /tmp/bundle` then `--b /tmp/bundle --b-entry main.mjs`.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { alternatingRounds } from './lib/alternating-rounds.ts';
import { stopAll } from './lib/processes.ts';
import { floorArm, SHIPPED_NODE_FLAGS, sidecarArm, startBackends, vegetaBin, type Arm } from './lib/pinned-arms.ts';

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

function label(arm: Arm): string {
  return arm.gc === undefined ? 'the floor' : arm.name;
}

async function main(): Promise<void> {
  const vegeta = vegetaBin();
  const backends = await startBackends(9621);
  const arms = [
    await floorArm(9631, backends),
    await sidecarArm(work, 'A', 9632, backends, {}, flags(values['a-flags']!), resolve(values.a!), values['a-entry']),
    await sidecarArm(work, 'B', 9633, backends, {}, flags(values['b-flags']!), resolve(values.b!), values['b-entry']),
  ];
  await alternatingRounds({
    vegeta,
    work,
    arms,
    label,
    rounds: Number(values.rounds),
    rate: RATE,
    seconds: SECONDS,
    references: [arms[0]!],
  });
}

try {
  await main();
} finally {
  await stopAll();
}
