import type { Strategy } from './types.ts';

/** Uniform random choice; weights are ignored (the seed's "pure random selection"). */
export const simpleShuffle: Strategy = function simpleShuffle(candidates, ctx) {
  return Math.floor(ctx.random() * candidates.length);
};
