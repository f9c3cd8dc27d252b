/**
 * Which backends rank the canary like the pool's majority: pure, table-tested. Each backend's
 * ranking (document positions, best first) is compared with every other's by Kendall's rank
 * correlation; two backends agree when it reaches the threshold. The reference is the backend
 * that agrees with the most others; when it and those agreeing with it are a strict majority of
 * the backends that answered, every backend outside that group is inconsistent. Without a strict
 * majority (2 backends that disagree, 3 that all differ) nobody is judged: the canary cannot tell
 * which one is wrong.
 */

export interface Verdict {
  readonly state: 'consistent' | 'inconsistent' | 'unknown';
  /** Correlation with the reference ranking (null: no reference). */
  readonly correlation: number | null;
  /** Share of the reference's top k found in this backend's top k (null: no reference). */
  readonly topKAgreement: number | null;
  readonly problem: string | undefined;
}

/** Kendall's tau-a between two rankings of the same documents (each a list of indices, best first). */
export function kendallTau(a: readonly number[], b: readonly number[]): number {
  const n = a.length;
  if (n < 2 || b.length !== n) return n === b.length ? 1 : -1;
  const posB = new Map<number, number>();
  for (const [i, doc] of b.entries()) posB.set(doc, i);
  let concordant = 0;
  let discordant = 0;
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const bi = posB.get(a[i]!);
      const bj = posB.get(a[j]!);
      if (bi === undefined || bj === undefined) return -1; // different documents: as unlike as can be
      if (bi < bj) concordant++;
      else discordant++;
    }
  }
  return (concordant - discordant) / ((n * (n - 1)) / 2);
}

export function topKAgreement(reference: readonly number[], other: readonly number[], k: number): number {
  const top = new Set(reference.slice(0, k));
  let found = 0;
  for (const doc of other.slice(0, k)) if (top.has(doc)) found++;
  return top.size === 0 ? 1 : found / top.size;
}

/** Verdicts for each backend's ranking (undefined: its canary call failed). */
export function judge(rankings: readonly (readonly number[] | undefined)[], threshold: number, topK = 3): Verdict[] {
  const answered: number[] = [];
  rankings.forEach((r, i) => {
    if (r !== undefined) answered.push(i);
  });
  const tau = (i: number, j: number) => kendallTau(rankings[i]!, rankings[j]!);
  let reference = -1;
  let best = -1;
  for (const i of answered) {
    let agreeing = 0;
    for (const j of answered) if (j !== i && tau(i, j) >= threshold) agreeing++;
    if (agreeing > best) {
      best = agreeing;
      reference = i;
    }
  }
  const majority = answered.length > 0 && (best + 1) * 2 > answered.length && answered.length >= 2;
  return rankings.map((r, i) => {
    if (r === undefined)
      return { state: 'unknown', correlation: null, topKAgreement: null, problem: 'the canary call failed' };
    if (!majority)
      return {
        state: 'unknown',
        correlation: null,
        topKAgreement: null,
        problem: answered.length < 2 ? 'too few backends answered to compare' : 'no majority ranking',
      };
    const correlation = i === reference ? 1 : tau(reference, i);
    return {
      state: correlation >= threshold ? 'consistent' : 'inconsistent',
      correlation: Math.round(correlation * 1000) / 1000,
      topKAgreement: Math.round(topKAgreement(rankings[reference]!, r, topK) * 1000) / 1000,
      problem: undefined,
    };
  });
}
