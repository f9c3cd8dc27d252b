/**
 * Pure: the pool's next canary plan (common/canary-plan.ts). One of the pool's live sidecar pods
 * runs the model-consistency canary; it stays the runner while it lives (no churn when other pods
 * come and go), and the first by name takes over when it goes. The verdicts are the runner's own,
 * as it reported them in its last /lb/config answer; until a new runner reports, the previous
 * verdicts stay (the best knowledge there is). Never the union of all sidecars' reports: followers
 * repeat the plan, and a verdict the runner withdrew would otherwise never leave.
 */
import type { CanaryPlan } from '../../common/canary-plan.ts';

/** What a runner sidecar reported of its last round. */
export interface RunnerRound {
  readonly inconsistent: readonly string[];
  readonly at: string;
}

export interface PlanInputs {
  /** routing.canary.interval > 0. */
  readonly enabled: boolean;
  /** The pool's live sidecar pods (selected, with an IP, not terminating). */
  readonly pods: readonly string[];
  /** Rounds reported by pods that say they are the runner, by pod name. */
  readonly rounds: ReadonlyMap<string, RunnerRound>;
}

/** undefined: nothing to write (the canary is off and no plan exists). */
export function nextPlan(previous: CanaryPlan | undefined, o: PlanInputs): CanaryPlan | undefined {
  if (!o.enabled) return previous;
  if (o.pods.length === 0)
    return previous === undefined
      ? undefined
      : { runner: undefined, inconsistent: previous.inconsistent, judgedAt: previous.judgedAt };
  const runner =
    previous?.runner !== undefined && o.pods.includes(previous.runner) ? previous.runner : [...o.pods].sort()[0]!;
  const round = o.rounds.get(runner);
  if (round !== undefined) return { runner, inconsistent: [...round.inconsistent].sort(), judgedAt: round.at };
  return { runner, inconsistent: previous?.inconsistent ?? [], judgedAt: previous?.judgedAt };
}
