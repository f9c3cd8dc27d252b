import type { Random } from '../../../common/clock.ts';
import type { CandidateView } from './types.ts';

/**
 * Weight used for choice. Weight 0 means "only when nothing else is left": such a backend counts
 * only when every candidate has weight 0, and then all count equally.
 */
export function effectiveWeights(candidates: readonly CandidateView[]): {
  weightOf: (c: CandidateView) => number;
  total: number;
} {
  let total = 0;
  for (const c of candidates) total += c.weight;
  if (total > 0) return { weightOf: (c) => c.weight, total };
  return { weightOf: () => 1, total: candidates.length };
}

/**
 * Runs `pick` on the candidates of positive weight when there are any (weight 0: "only when nothing
 * else is left"), and maps its choice back to a position in `candidates`. No copy when no
 * candidate has weight 0, or when all have.
 */
export function amongPositiveWeights(
  candidates: readonly CandidateView[],
  pick: (list: readonly CandidateView[]) => number,
): number {
  let zeros = 0;
  for (const c of candidates) if (c.weight <= 0) zeros++;
  if (zeros === 0 || zeros === candidates.length) return pick(candidates);
  const positive = candidates.filter((c) => c.weight > 0);
  return candidates.indexOf(positive[pick(positive)]!);
}

/** Position of the lowest score; ties broken uniformly at random (reservoir sampling). */
export function argminRandomTie(
  candidates: readonly CandidateView[],
  score: (c: CandidateView) => number,
  random: Random,
): number {
  let best = 0;
  let bestScore = Number.POSITIVE_INFINITY;
  let ties = 0;
  for (let i = 0; i < candidates.length; i++) {
    const s = score(candidates[i]!);
    if (s < bestScore) {
      best = i;
      bestScore = s;
      ties = 1;
    } else if (s === bestScore && random() * ++ties < 1) {
      best = i;
    }
  }
  return best;
}

/**
 * Weighted random position among the candidates whose `key` equals the lowest key present; weight
 * 0 backends take part only when every candidate has weight 0.
 */
export function weightedPickInLowestTier(
  candidates: readonly CandidateView[],
  key: (c: CandidateView) => number,
  random: Random,
): number {
  return amongPositiveWeights(candidates, (list) => weightedInLowestTier(list, key, random));
}

function weightedInLowestTier(
  candidates: readonly CandidateView[],
  key: (c: CandidateView) => number,
  random: Random,
): number {
  let lowest = Number.POSITIVE_INFINITY;
  for (const c of candidates) lowest = Math.min(lowest, key(c));
  let total = 0;
  let size = 0;
  for (const c of candidates) {
    if (key(c) !== lowest) continue;
    total += c.weight;
    size++;
  }
  let r = random() * (total > 0 ? total : size);
  let last = 0;
  for (let i = 0; i < candidates.length; i++) {
    const c = candidates[i]!;
    if (key(c) !== lowest) continue;
    last = i;
    r -= total > 0 ? c.weight : 1;
    if (r < 0) return i;
  }
  return last;
}
