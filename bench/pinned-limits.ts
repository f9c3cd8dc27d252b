/**
 * Pool-wide limits on the pinned method: the node floor, a sidecar with no limits, and a sidecar
 * whose every backend has rpm and tpm drawn from a real Redis (limits high enough never to bind,
 * so both sidecars serve every call and only the bookkeeping differs), in alternating rounds.
 * Prints CPU per call and p99 per round and the ratio of the means.
 *
 *   node bench/pinned-limits.ts [--rounds 4] [--seconds 10] [--rate 1000]
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
import { startRedis } from '../test/support/redis-server.ts';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '4' },
    seconds: { type: 'string', default: '10' },
    rate: { type: 'string', default: '1000' },
  },
});
const SECONDS = Number(values.seconds);
const RATE = Number(values.rate);
const work = mkdtempSync(join(tmpdir(), 'rrlb-pinned-limits-'));

async function measure(vegeta: string, arm: Arm): Promise<{ cpuMs: number; p99: number; success: number }> {
  await attack(vegeta, work, arm.url, RATE, 3); // warm-up
  const before = arm.proc!.cpuSeconds();
  const v = await attack(vegeta, work, arm.url, RATE, SECONDS);
  // A shared machine may drop a few calls of any arm; CPU is per successful call either way.
  if (v.success < 0.95) throw new Error(`${arm.name}: success ${v.success}`);
  return {
    cpuMs: ((arm.proc!.cpuSeconds() - before) * 1000) / Math.max(1, v.throughput * SECONDS),
    p99: v.p99,
    success: v.success,
  };
}

async function main(): Promise<void> {
  const vegeta = vegetaBin();
  const redis = await startRedis();
  try {
    const backends = await startBackends(9741);
    const arms = [
      await floorArm(9751, backends),
      await sidecarArm(work, 'limits off', 9752, backends, {}, SHIPPED_NODE_FLAGS),
      await sidecarArm(
        work,
        'limits shared through Redis',
        9753,
        backends,
        { redis_url: redis.url, sidecar_count: 4 },
        SHIPPED_NODE_FLAGS,
        undefined,
        undefined,
        { rpm: 10_000_000, tpm: 1_000_000_000 },
      ),
    ];
    const rounds = new Map<string, { cpuMs: number; p99: number; success: number }[]>(arms.map((a) => [a.name, []]));
    for (let r = 0; r < Number(values.rounds); r++) {
      for (const arm of r % 2 === 0 ? arms : [...arms].reverse()) {
        const m = await measure(vegeta, arm);
        rounds.get(arm.name)!.push(m);
        console.log(
          `round ${r + 1} ${arm.name}: CPU ${m.cpuMs.toFixed(3)} ms/call, p99 ${m.p99} ms, success ${(100 * m.success).toFixed(2)}%`,
        );
      }
    }
    const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
    const cpu = (name: string) => mean(rounds.get(name)!.map((m) => m.cpuMs));
    for (const arm of arms)
      console.log(
        `${arm.name}: CPU mean ${cpu(arm.name).toFixed(3)} ms/call [${rounds
          .get(arm.name)!
          .map((m) => m.cpuMs.toFixed(3))
          .join(', ')}], p99 [${rounds
          .get(arm.name)!
          .map((m) => m.p99)
          .join(', ')}]`,
      );
    console.log(
      `CPU per call, Redis-backed limits / limits off: ${(cpu(arms[2]!.name) / cpu(arms[1]!.name)).toFixed(3)}`,
    );
  } finally {
    await redis.close();
  }
}

try {
  await main();
} finally {
  await stopAll();
}
