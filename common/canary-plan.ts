/**
 * The pool's canary plan: which one sidecar runs the model-consistency canary, and what its last
 * round concluded. The operator writes it into a small ConfigMap of its own
 * (`<config ConfigMap>-canary`, key `canary.json`), separate from the config so that neither the
 * config's hash nor its bytes change with it; sidecars that watch their ConfigMap through the API
 * watch this one too. At 1,000 sidecars one change costs ~1 KB per sidecar, and it changes only
 * when the runner pod goes or a backend's verdict flips.
 */

export const CANARY_PLAN_KEY = 'canary.json';

/** Most backends named inconsistent (as status.inconsistentBackends). */
const MAX_PLAN_NAMES = 64;

export function canaryPlanConfigMapName(configMapName: string): string {
  return `${configMapName}-canary`;
}

export interface CanaryPlan {
  /** The pod whose sidecar runs the canary; undefined: none chosen (every sidecar runs its own). */
  readonly runner: string | undefined;
  /** Backends the runner's last round judged inconsistent, sorted. */
  readonly inconsistent: readonly string[];
  /** When the runner's last round ended (ISO), if one has been reported. */
  readonly judgedAt: string | undefined;
}

const isName = (v: unknown): v is string => typeof v === 'string' && v.length > 0 && v.length <= 253;

/** Stable text: the same plan always gives the same bytes (no spurious writes). */
export function formatCanaryPlan(plan: CanaryPlan): string {
  return JSON.stringify({
    runner: plan.runner ?? null,
    inconsistent: [...plan.inconsistent].sort().slice(0, MAX_PLAN_NAMES),
    judgedAt: plan.judgedAt ?? null,
  });
}

/** Lenient and bounded (the object is ours, but anyone with write access could edit it): undefined when unreadable. */
export function parseCanaryPlan(text: string | undefined): CanaryPlan | undefined {
  if (text === undefined) return undefined;
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof raw !== 'object' || raw === null) return undefined;
  const o = raw as { runner?: unknown; inconsistent?: unknown; judgedAt?: unknown };
  return {
    runner: isName(o.runner) ? o.runner : undefined,
    inconsistent: Array.isArray(o.inconsistent) ? o.inconsistent.filter(isName).slice(0, MAX_PLAN_NAMES).sort() : [],
    judgedAt: typeof o.judgedAt === 'string' && o.judgedAt.length <= 64 ? o.judgedAt : undefined,
  };
}
