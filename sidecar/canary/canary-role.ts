/**
 * Pure: what this sidecar does about the canary, from the pool's canary plan (common/canary-plan.ts)
 * and its own pod name.
 * - own: no plan to follow (file mode, no operator, no sidecarSelector, no access): run rounds here.
 * - runner: the plan names this pod: run rounds here; the operator copies the verdicts to the plan.
 * - follower: another pod runs it: no canary calls from here; take the plan's verdicts.
 * - waiting: watching the plan, not read yet: no calls until it is known (or a timeout says own).
 */
import type { CanaryPlan } from '../../common/canary-plan.ts';

export type CanaryRole =
  | { readonly kind: 'own' }
  | { readonly kind: 'runner' }
  | { readonly kind: 'waiting' }
  | {
      readonly kind: 'follower';
      readonly runner: string;
      readonly inconsistent: readonly string[];
      readonly judgedAt: string | undefined;
    };

export const OWN: CanaryRole = { kind: 'own' };

/** `plan` undefined: there is none (no object, unreadable, or no runner chosen). */
export function roleFor(plan: CanaryPlan | undefined, podName: string | undefined): CanaryRole {
  if (plan === undefined || plan.runner === undefined) return OWN;
  if (plan.runner === podName) return { kind: 'runner' };
  return { kind: 'follower', runner: plan.runner, inconsistent: plan.inconsistent, judgedAt: plan.judgedAt };
}

/** Runs canary calls itself. */
export function runsRounds(role: CanaryRole): boolean {
  return role.kind === 'own' || role.kind === 'runner';
}
