/**
 * What a pass-through path could save, on the pinned method: HAProxy, the node floor (one JSON
 * parse + stringify each way), the raw node floor (the bytes forwarded both ways, no JSON work:
 * the least any Node proxy costs) and the sidecar as the image runs it (scripts/bundle.ts +
 * launch.mjs, default config, logging on), in alternating rounds. Prints CPU per call as
 * multiples of HAProxy's and the floor's; writes nothing.
 *
 *   node bench/pinned-ceiling.ts [--rounds 3] [--seconds 20] [--rate 1000]
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { alternatingRounds } from './lib/alternating-rounds.ts';
import { stopAll, waitForHttp } from './lib/processes.ts';
import { body, floorArm, haproxyArm, sidecarArm, startBackends, vegetaBin, type Arm } from './lib/pinned-arms.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '20' },
    rate: { type: 'string', default: '1000' },
  },
});
const work = mkdtempSync(join(tmpdir(), 'rrlb-pinned-ceiling-'));

const labels = new Map<Arm, string>();

async function main(): Promise<void> {
  const vegeta = vegetaBin();
  const bundle = join(work, 'bundle');
  execFileSync(process.execPath, [join(root, 'scripts/bundle.ts'), bundle], { stdio: ['ignore', 'ignore', 'inherit'] });
  const backends = await startBackends(9641);
  const haproxy = haproxyArm(work, 9651, backends);
  await waitForHttp(haproxy.url, 30_000, 'POST', body);
  const floor = await floorArm(9652, backends);
  const raw = await floorArm(9653, backends, true);
  // The launcher adds the shipped V8 flags itself (no memory limit here: 8 MB semi-spaces).
  const sidecar = await sidecarArm(work, 'sidecar as shipped', 9654, backends, {}, [], bundle, 'launch.mjs');
  labels.set(haproxy, 'HAProxy').set(floor, 'the floor').set(raw, 'the raw floor').set(sidecar, 'the sidecar');
  await alternatingRounds({
    vegeta,
    work,
    arms: [haproxy, floor, raw, sidecar],
    label: (arm) => labels.get(arm)!,
    rounds: Number(values.rounds),
    rate: Number(values.rate),
    seconds: Number(values.seconds),
    references: [haproxy, floor],
  });
}

try {
  await main();
} finally {
  await stopAll();
}
