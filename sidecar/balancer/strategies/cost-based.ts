import type { CandidateView, Strategy } from './types.ts';
import { weightedPickInLowestTier } from './weights.ts';

function costOf(c: CandidateView): number {
  return c.costPerToken;
}

/**
 * LiteLLM's `cost-based-routing`: the cheapest backends by `litellm_params.input_cost_per_token`
 * (unset = 0, i.e. self-hosted is free); weighted random among equally cheap ones.
 */
export const costBased: Strategy = function costBased(candidates, ctx) {
  return weightedPickInLowestTier(candidates, costOf, ctx.random);
};
