import type { CandidateView, PickContext, Strategy } from './types.ts';
import { amongPositiveWeights } from './weights.ts';

/**
 * Peak-EWMA latency per document, decayed toward zero while a backend is idle (so an idle slow
 * backend is probed again after a while) — the estimate tower/Linkerd and Finagle use.
 */
export function decayedLatency(c: CandidateView, ctx: PickContext): number {
  if (Number.isNaN(c.latencyEwma)) return Number.NaN;
  return c.latencyEwma * Math.exp(-Math.max(0, ctx.now - c.latencyAt) / ctx.latencyDecayMs);
}

/** A backend never measured starts at the mean of the measured ones: no burst toward it, no starving. */
function neutralPrior(candidates: readonly CandidateView[], ctx: PickContext): number {
  let sum = 0;
  let n = 0;
  for (const c of candidates) {
    const estimate = decayedLatency(c, ctx);
    if (!Number.isNaN(estimate)) {
      sum += estimate;
      n++;
    }
  }
  return n === 0 ? 1 : sum / n;
}

function expectedLatency(c: CandidateView, ctx: PickContext, prior: number): number {
  const estimate = decayedLatency(c, ctx);
  return (Number.isNaN(estimate) ? prior : estimate) * (c.inFlight + 1);
}

/**
 * Lowest expected latency (estimate x (in flight + 1)) of two candidates drawn at random: the
 * power of two choices keeps many sidecars from herding onto the same momentarily-fastest backend.
 */
export const latencyBased: Strategy = function latencyBased(candidates, ctx) {
  return amongPositiveWeights(candidates, (list) => twoChoices(list, ctx));
};

function twoChoices(candidates: readonly CandidateView[], ctx: PickContext): number {
  const n = candidates.length;
  if (n === 1) return 0;
  const prior = neutralPrior(candidates, ctx);
  const a = Math.floor(ctx.random() * n);
  let b = Math.floor(ctx.random() * (n - 1));
  if (b >= a) b++;
  const costA = expectedLatency(candidates[a]!, ctx, prior);
  const costB = expectedLatency(candidates[b]!, ctx, prior);
  if (costA === costB) return ctx.random() < 0.5 ? a : b;
  return costA < costB ? a : b;
}
