/**
 * Alternating rounds on the pinned method (bench/pinned-ab.ts, bench/pinned-ceiling.ts): every arm
 * is measured once per round, in forward order on odd rounds and reversed on even ones, so the
 * drift of a shared VM falls on all arms alike. Prints each round and the means.
 */
import { attack, type Arm } from './pinned-arms.ts';

export interface Round {
  readonly cpuMs: number;
  readonly p50: number;
  readonly p99: number;
  /** GC pauses (sidecar arms) and a success rate below 100%, as text; empty when neither. */
  readonly notes: string;
}

/** One round of an arm: a 3 s warm-up, then `seconds` at `rate`; CPU per call from /proc. */
async function measureRound(vegeta: string, work: string, arm: Arm, rate: number, seconds: number): Promise<Round> {
  await attack(vegeta, work, arm.url, rate, 3); // warm-up: JIT, connections
  arm.gc?.reset();
  const before = arm.proc!.cpuSeconds();
  const v = await attack(vegeta, work, arm.url, rate, seconds);
  const cpuMs = ((arm.proc!.cpuSeconds() - before) * 1000) / Math.max(1, v.throughput * seconds);
  const gc = arm.gc?.snapshot();
  // A starved round (a shared machine) is reported, not fatal: its CPU per call still counts the calls served.
  const failed = v.success < 1 ? `, success ${(v.success * 100).toFixed(2)}%` : '';
  const pauses = gc === undefined ? '' : `, GC pauses ${gc.count}, longest ${gc.maxMs} ms, ${gc.over5ms} over 5 ms`;
  return { cpuMs, p50: v.p50, p99: v.p99, notes: `${pauses}${failed}` };
}

export interface RoundsPlan {
  readonly vegeta: string;
  readonly work: string;
  readonly arms: readonly Arm[];
  /** The short name printed for an arm. */
  readonly label: (arm: Arm) => string;
  readonly rounds: number;
  readonly rate: number;
  readonly seconds: number;
  /** Arms whose mean CPU per call the others are printed as multiples of. */
  readonly references: readonly Arm[];
}

/** Runs the rounds; returns each arm's mean CPU ms per call, by arm name. */
export async function alternatingRounds(plan: RoundsPlan): Promise<Map<string, number>> {
  const rounds = new Map<string, Round[]>(plan.arms.map((a) => [a.name, []]));
  for (let r = 0; r < plan.rounds; r++) {
    for (const arm of r % 2 === 0 ? plan.arms : [...plan.arms].reverse()) {
      const m = await measureRound(plan.vegeta, plan.work, arm, plan.rate, plan.seconds);
      rounds.get(arm.name)!.push(m);
      console.log(
        `round ${r + 1} ${plan.label(arm)}: CPU ${m.cpuMs.toFixed(3)} ms/call, p50 ${m.p50} ms, p99 ${m.p99} ms${m.notes}`,
      );
    }
  }
  const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
  const means = new Map(plan.arms.map((a) => [a.name, mean(rounds.get(a.name)!.map((m) => m.cpuMs))]));
  for (const arm of plan.arms) {
    const ms = rounds.get(arm.name)!;
    const cpu = means.get(arm.name)!;
    const ratios = plan.references
      .filter((ref) => ref !== arm)
      .map((ref) => `${(cpu / means.get(ref.name)!).toFixed(2)}x ${plan.label(ref)}`)
      .join(', ');
    console.log(
      `${plan.label(arm)}: CPU mean ${cpu.toFixed(3)} ms/call${ratios === '' ? '' : ` (${ratios})`} [${ms.map((m) => m.cpuMs.toFixed(3)).join(', ')}], p99 [${ms.map((m) => m.p99).join(', ')}]`,
    );
  }
  return means;
}
