import type { Strategy } from './types.ts';
import { weightedPickInLowestTier } from './weights.ts';

function sameTier(): number {
  return 0;
}

/** Random choice with probability proportional to weight. The default. */
export const weightedRandom: Strategy = function weightedRandom(candidates, ctx) {
  return weightedPickInLowestTier(candidates, sameTier, ctx.random);
};
