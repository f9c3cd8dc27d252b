import type { Strategy } from './types.ts';
import { argminRandomTie } from './weights.ts';

/**
 * LiteLLM's `usage-based-routing`: the backend that has used the smallest share of its tpm limit
 * in the current window (tokens used, for backends without a limit); ties at random.
 */
export const usageBased: Strategy = function usageBased(candidates, ctx) {
  return argminRandomTie(candidates, (c) => (c.tpmLimit === undefined ? c.tokensInWindow : c.tokensInWindow / c.tpmLimit), ctx.random);
};
