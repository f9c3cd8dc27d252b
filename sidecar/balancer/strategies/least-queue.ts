import type { CandidateView, Strategy } from './types.ts';

/**
 * The backend's own queue report (answer headers or /metrics: load-signal.ts) plus what this
 * sidecar sent there since that report, relative to weight: (reported queue + sent since + 1) /
 * weight; ties at random. With many sidecars each sees a sliver of a backend's load through its
 * own in-flight count; the backend's report carries everyone's, including this sidecar's calls
 * sent before it (so they are not counted twice), and the calls sent since keep one sidecar from
 * piling onto a backend between two reports. Without a fresh report (older than twice
 * load_signal_interval, or never sent) it is exactly least-busy: (in flight + 1) / weight.
 * Weight 0: only when every candidate has weight 0, and then all count as weight 1.
 */
export const leastQueue: Strategy = function leastQueue(candidates, ctx) {
  let positive = false;
  for (const c of candidates) if (c.weight > 0) positive = true;
  let best = 0;
  let bestScore = Number.POSITIVE_INFINITY;
  let ties = 0;
  for (let i = 0; i < candidates.length; i++) {
    const c = candidates[i]!;
    if (positive && c.weight <= 0) continue;
    const s = load(c) / (positive ? c.weight : 1);
    if (s < bestScore) {
      best = i;
      bestScore = s;
      ties = 1;
    } else if (s === bestScore && ctx.random() * ++ties < 1) {
      best = i;
    }
  }
  return best;
};

function load(c: CandidateView): number {
  const queue = c.reportedQueue;
  return Number.isNaN(queue) ? c.inFlight + 1 : queue + c.sentSinceReport + 1;
}
