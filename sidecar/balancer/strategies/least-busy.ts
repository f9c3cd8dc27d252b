import type { Strategy } from './types.ts';
import { argminRandomTie, effectiveWeights } from './weights.ts';

/** Fewest requests in flight relative to weight ((in flight + 1) / weight); ties at random. */
export const leastBusy: Strategy = function leastBusy(candidates, ctx) {
  const { weightOf } = effectiveWeights(candidates);
  return argminRandomTie(candidates, (c) => (c.inFlight + 1) / weightOf(c), ctx.random);
};
