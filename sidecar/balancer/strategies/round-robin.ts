import type { Strategy } from './types.ts';
import { effectiveWeights } from './weights.ts';

/**
 * Smooth weighted round-robin (nginx's): each pick adds every candidate's weight to its credit,
 * takes the highest credit, and charges the winner the total. Weights 2:1 give a, b, a, a, b, a...
 */
export const roundRobin: Strategy = function roundRobin(candidates, ctx) {
  const { weightOf, total } = effectiveWeights(candidates);
  let best = 0;
  let bestCredit = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < candidates.length; i++) {
    const c = candidates[i]!;
    const credit = (ctx.memory.get(c.id) ?? 0) + weightOf(c);
    ctx.memory.set(c.id, credit);
    if (credit > bestCredit) {
      best = i;
      bestCredit = credit;
    }
  }
  ctx.memory.set(candidates[best]!.id, bestCredit - total);
  return best;
};
