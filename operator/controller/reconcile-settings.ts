import { OPERATOR_ENV } from '../../common/settings/operator-environment.ts';

/**
 * The operator's reconcile deadline: its environment variable, default and meaning come from the
 * one declaration (common/settings/operator-environment.ts). A reconcile that runs past it is
 * aborted — its API calls cancelled — and retried with backoff, so a hanging call never holds a
 * worker (controller-runtime has no default; client-go's request timeout is the usual bound).
 */
export const RECONCILE_TIMEOUT = {
  env: 'OPERATOR_RECONCILE_TIMEOUT_SECONDS',
  defaultSeconds: OPERATOR_ENV.OPERATOR_RECONCILE_TIMEOUT_SECONDS.default,
  description: OPERATOR_ENV.OPERATOR_RECONCILE_TIMEOUT_SECONDS.description,
} as const satisfies { env: keyof typeof OPERATOR_ENV; defaultSeconds: number; description: string };

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
