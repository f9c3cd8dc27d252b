/**
 * Carries out a split call (split-plan.ts decides the chunks): chunks routed in parallel, each a
 * run of the attempt plan of its own, all within the call's deadline and the shared retry budget,
 * to backends of one configured model; scores merged, top_n applied once.
 */
import type { RankedAnswer, RerankRequest } from '../api/canonical.ts';
import { drive, nothingLeft } from './attempt-driver.ts';
import { GenerationPlan, type Generation } from './generation.ts';
import {
  callerGone,
  RouteError,
  withUsage,
  type AttemptRecord,
  type RouteOptions,
  type RouteResult,
} from './route-result.ts';
import { newRun, type DriverDeps } from './run.ts';
import { chunkRequest, limitsOf, mergeAnswers, modelGroup, planChunks } from './split-plan.ts';

/**
 * A call larger than the backends' limits (or sharded by `shard_min_documents`). Undefined when
 * the call needs no split after all, or no backend is eligible (the caller then takes the ordinary
 * path, which ends at the local backend or a clear error).
 */
export async function routeSplit(
  deps: DriverDeps,
  gen: Generation,
  request: RerankRequest,
  options: RouteOptions,
  deadline: number,
  attempts: AttemptRecord[],
): Promise<RouteResult | undefined> {
  const r = gen.config.router;
  const now = deps.clock.now();
  const eligible = gen.backends.filter((b) => b.isEligible(now, 0));
  if (eligible.length === 0) return undefined;
  let group = gen.backends;
  let limits = gen.limits;
  if (!gen.oneModel) {
    // Scores are comparable within one model only: the strategy's pick decides which model serves.
    const probe = new GenerationPlan(gen, eligible, 0, deadline, deps);
    group = modelGroup(gen.backends, eligible[probe.pick(eligible)]!);
    limits = limitsOf(group);
  }
  const n = request.documents.length;
  const shards =
    r.shardMinDocuments !== undefined && n >= r.shardMinDocuments
      ? group.filter((b) => b.isEligible(now, 0)).length
      : 1;
  const chunks = planChunks(request, limits, shards);
  if (chunks.length < 2) return undefined;
  deps.observer.split(chunks.length);
  const controller = new AbortController();
  const signal =
    options.signal === undefined ? controller.signal : AbortSignal.any([options.signal, controller.signal]);
  const answers: RankedAnswer[] = new Array(chunks.length);
  const servedBy: string[] = new Array(chunks.length);
  let capacity = 0;
  for (const b of group) capacity += b.spec.maxParallelRequests ?? chunks.length;
  let next = 0;
  let failure: unknown;
  const worker = async (): Promise<void> => {
    while (failure === undefined && next < chunks.length) {
      const c = next++;
      const chunk = chunks[c]!;
      const plan = new GenerationPlan(gen, group, chunk.cost, deadline, deps);
      const run = newRun(chunkRequest(request, chunk), chunk.cost, plan, options, signal, attempts, c);
      if (c > 0) deps.retryBudget.requestStarted();
      try {
        const answer = await drive(deps, run);
        if (answer === undefined) {
          const why =
            run.stopped === 'the caller went away'
              ? callerGone()
              : nothingLeft(gen, deps.clock.now(), chunk.cost, run.lastError, run.lastBackend, run.stopped);
          throw new RouteError(why, attempts, `chunk ${c + 1} of ${chunks.length}: ${run.stopped}`);
        }
        answers[c] = withUsage(answer, chunk.cost);
        servedBy[c] = run.winner;
      } catch (error) {
        failure ??= error;
        controller.abort();
      } finally {
        if (c > 0) deps.retryBudget.requestEnded();
      }
    }
  };
  const workers: Promise<void>[] = [];
  for (let w = Math.min(chunks.length, capacity); w > 0; w--) workers.push(worker());
  await Promise.all(workers);
  // The first failure speaks for the call; chunks cancelled because of it say nothing.
  if (failure !== undefined) throw failure;
  const names = [...new Set(servedBy)];
  return {
    answer: mergeAnswers(chunks, answers, request.topN),
    backend: names.join(','),
    local: false,
    attempts,
    estimatedTokens: chunks.reduce((sum, chunk) => sum + chunk.cost, 0),
    generation: gen,
    chunks: chunks.map((chunk, c) => ({ documents: [chunk.start, chunk.end], backend: servedBy[c]! })),
  };
}
