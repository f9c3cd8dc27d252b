import type { Strategy } from './types.ts';
import type { CandidateView } from './types.ts';
import { amongPositiveWeights, argminRandomTie } from './weights.ts';

function tpmShare(c: CandidateView): number {
  return c.tpmLimit === undefined ? c.tokensInWindow : c.tokensInWindow / c.tpmLimit;
}

/**
 * LiteLLM's `usage-based-routing`: the backend that has used the smallest share of its tpm limit
 * in the current window (tokens used, for backends without a limit); ties at random. Weight 0
 * backends only when every candidate has weight 0.
 */
export const usageBased: Strategy = function usageBased(candidates, ctx) {
  return amongPositiveWeights(candidates, (list) => argminRandomTie(list, tpmShare, ctx.random));
};
