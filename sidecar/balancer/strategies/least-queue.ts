import { type CandidateView, OWN_MEMORY_KEY, type PickContext, type Strategy } from './types.ts';

/**
 * Least busy relative to what each backend can serve, learned from the backends' own load
 * reports (answer headers or /metrics: load-signal.ts). Score: (in flight + 1) / (weight x
 * capacity) x (1 + reported queue); lowest wins, ties at random.
 *
 * With many sidecars each sees a sliver of a backend's load through its own in-flight count, and
 * backends seldom serve alike (12 slots behind one, 4 behind another). Counting calls as
 * least-busy does sends each backend the same share, and the small one queues: at 90% load the
 * fleet's p99 doubled (bench/lib/fleet-scenario.ts). Each backend's answers report the wait
 * everyone's calls met there (TEI's x-queue-time / x-inference-time: service times waited, one
 * unit whatever the backend's size; a scraped queue counts calls, which would rank a big backend
 * with 4 waiting as busy as a small one, so it does not teach), so every pick with fresh waits
 * moves a capacity multiplier: a backend whose wait is above the mean of the fresh ones loses
 * capacity, one below it gains, at LEARN_RATE per service time per second, within
 * [1/MAX_SKEW, MAX_SKEW] of the others (geometric mean 1); every multiplier drifts back to 1 with
 * time constant RELAX_MS, so one learned before an ejection or a quiet spell does not stay for
 * good. The multipliers settle where the waits are alike — each backend gets the share of calls
 * it can serve — and every sidecar learns the same from the same reports.
 * A fresh queue also counts at once through the (1 + queue) factor, so a backend that starts to
 * queue is avoided before the multipliers move. Without fresh reports it is least-busy with the
 * learned capacities. Weight 0: only when every candidate has weight 0, then all count as 1.
 */
export const leastQueue: Strategy = function leastQueue(candidates, ctx) {
  learn(candidates, ctx);
  let positive = false;
  for (const c of candidates) if (c.weight > 0) positive = true;
  let best = 0;
  let bestScore = Number.POSITIVE_INFINITY;
  let ties = 0;
  for (let i = 0; i < candidates.length; i++) {
    const c = candidates[i]!;
    if (positive && c.weight <= 0) continue;
    const queue = Number.isNaN(c.reportedQueue) ? 0 : c.reportedQueue;
    const s = ((c.inFlight + 1) * (1 + queue)) / ((positive ? c.weight : 1) * capacity(ctx, c.id));
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

/** Per service time of queue above the mean, per second: the log of the capacity multiplier moves this much. */
export const LEARN_RATE = 1;
/** The largest ratio between two backends' learned capacities. */
export const MAX_SKEW = 16;
/** Learned multipliers relax toward 1 with this time constant (held against it by a wait gap of ~1/60 service time). */
export const RELAX_MS = 60_000;
/** Picks closer together than this share one update (the time step is what counts). */
const MIN_STEP_MS = 5;
/** A pause longer than this (no picks) counts as this long: reports from before it say little. */
const MAX_STEP_MS = 1000;
/** The strategy's memory: the time of the last update, under a key no backend id can take. */
const LEARNED_AT = `${OWN_MEMORY_KEY}least-queue-learned-at`;
const LOG_BOUND = Math.log(MAX_SKEW) / 2;

/** The learned capacity multiplier of backend `id` (1 until reports teach otherwise). */
export function capacity(ctx: PickContext, id: string): number {
  return Math.exp(ctx.memory.get(id) ?? 0);
}

function learn(candidates: readonly CandidateView[], ctx: PickContext): void {
  const last = ctx.memory.get(LEARNED_AT);
  if (last !== undefined && ctx.now - last < MIN_STEP_MS) return;
  ctx.memory.set(LEARNED_AT, ctx.now);
  if (last === undefined) return;
  const ms = Math.min(ctx.now - last, MAX_STEP_MS);
  const keep = Math.exp(-ms / RELAX_MS);
  let fresh = 0;
  let sum = 0;
  for (const c of candidates) {
    const log = ctx.memory.get(c.id);
    if (log !== undefined) ctx.memory.set(c.id, log * keep);
    if (Number.isNaN(c.reportedWait)) continue;
    fresh++;
    sum += c.reportedWait;
  }
  if (fresh < 2) return;
  const mean = sum / fresh;
  const step = (ms / 1000) * LEARN_RATE;
  // Log-multipliers, kept centred (geometric mean 1 over the backends that report) and bounded.
  let centre = 0;
  for (const c of candidates) {
    if (Number.isNaN(c.reportedWait)) continue;
    const log = (ctx.memory.get(c.id) ?? 0) - step * (c.reportedWait - mean);
    ctx.memory.set(c.id, log);
    centre += log;
  }
  centre /= fresh;
  for (const c of candidates) {
    if (Number.isNaN(c.reportedWait)) continue;
    const log = ctx.memory.get(c.id)! - centre;
    ctx.memory.set(c.id, Math.max(-LOG_BOUND, Math.min(LOG_BOUND, log)));
  }
}
