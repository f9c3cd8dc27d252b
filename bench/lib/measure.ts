/** One measured run of the load generator against an arm, with the arm's CPU per call. */
import { once } from 'node:events';
import { join } from 'node:path';
import type { Arm } from './arms.ts';
import type { LoadResult } from './load-generator.ts';
import { start } from './processes.ts';

export interface Measurement extends LoadResult {
  readonly arm: string;
  /** CPU milliseconds the load balancer process spent per successful call (0 for direct). */
  readonly lbCpuMsPerCall: number;
}

export async function measure(
  root: string,
  nodeBin: string,
  arm: Arm,
  rate: number,
  seconds: number,
  bodyFile: string,
  warmup = 1,
): Promise<Measurement> {
  const cpuBefore = arm.processes.reduce((s, p) => s + p.cpuSeconds(), 0);
  const gen = start('load', nodeBin, [
    join(root, 'bench/lib/load-generator.ts'),
    '--url',
    arm.url,
    '--rate',
    String(rate),
    '--seconds',
    String(seconds),
    '--warmup',
    String(warmup),
    '--body-file',
    bodyFile,
  ]);
  const [code] = (await once(gen.child, 'exit')) as [number | null];
  if (code !== 0) throw new Error(`load generator failed: ${gen.output().slice(-500)}`);
  const result = JSON.parse(gen.output().trim().split('\n').pop()!) as LoadResult;
  const cpu = arm.processes.reduce((s, p) => s + p.cpuSeconds(), 0) - cpuBefore;
  // CPU covers warm-up too: divide by every call sent in both phases.
  const calls = result.ok + Math.round(rate * warmup);
  return {
    ...result,
    arm: arm.name,
    lbCpuMsPerCall: arm.processes.length === 0 ? 0 : Math.round(((cpu * 1000) / Math.max(1, calls)) * 1000) / 1000,
  };
}
