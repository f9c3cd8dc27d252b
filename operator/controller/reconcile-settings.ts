/**
 * The operator's reconcile deadline, declared once: its environment variable, default and
 * meaning (docs/operator.md's table repeats them for readers). A reconcile that runs past it is
 * aborted — its API calls cancelled — and retried with backoff, so a hanging call never holds a
 * worker (controller-runtime has no default; client-go's request timeout is the usual bound).
 */
export const RECONCILE_TIMEOUT = {
  env: 'OPERATOR_RECONCILE_TIMEOUT_SECONDS',
  defaultSeconds: 10,
  description: 'deadline of one reconcile (its API calls are cancelled after it; retried with backoff)',
} as const;

/** The deadline in ms, or a problem naming the variable. */
export function reconcileTimeoutMs(env: NodeJS.ProcessEnv): { ms: number; problem?: string } {
  const raw = env[RECONCILE_TIMEOUT.env];
  if (raw === undefined || raw.trim() === '') return { ms: RECONCILE_TIMEOUT.defaultSeconds * 1000 };
  const seconds = Number(raw);
  if (!Number.isFinite(seconds) || seconds <= 0 || seconds > 3600)
    return {
      ms: RECONCILE_TIMEOUT.defaultSeconds * 1000,
      problem: `${RECONCILE_TIMEOUT.env}: "${raw}" is not a number of seconds in (0, 3600]`,
    };
  return { ms: Math.round(seconds * 1000) };
}
