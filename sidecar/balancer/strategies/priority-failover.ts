import type { CandidateView, Strategy } from './types.ts';
import { weightedPickInLowestTier } from './weights.ts';

function priorityOf(c: CandidateView): number {
  return c.priority;
}

/**
 * The lowest `priority` number that has an eligible backend wins; weighted random within that
 * tier. Backends that fail drop out of eligibility, so traffic moves to the next tier.
 */
export const priorityFailover: Strategy = function priorityFailover(candidates, ctx) {
  return weightedPickInLowestTier(candidates, priorityOf, ctx.random);
};
