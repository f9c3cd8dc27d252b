/**
 * The decisions of the attempt loop, as a pure step function: the state of one request and the
 * time in, "what next" out — attempt this backend, back off this long, or stop and say why. The
 * async driver (attempt-driver.ts) only carries the decisions out (sleeps, sends, records), so every
 * branch here is tested on a manual clock without sockets (as Envoy scripts its random stream).
 *
 * The rules: failover goes to a backend this request has not tried yet, at once; only when every
 * eligible backend has been tried does the request back off (`retry_delay` x 2^k, jittered to
 * 50-100%) and try one of them again; at most 1 + `num_retries` attempts, all before the deadline.
 *
 * Hedging adds two decisions: how long to wait before hedging (`hedgeDelayMs`) and where the hedge
 * goes (`nextHedge`: an untried backend, within the same attempt count and deadline). Splitting
 * (split-plan.ts) runs this same plan once per chunk, each with its own state.
 */
import type { AttemptError } from '../backends/attempt-error.ts';
import type { Random } from '../../common/clock.ts';

export type StopReason =
  | 'attempts exhausted'
  | 'no eligible backend left'
  | 'deadline'
  | 'retry budget exhausted'
  | 'the caller went away';

/** What the plan needs of a backend. */
export interface PlanBackend {
  readonly spec: { readonly timeoutMs: number };
}

/** One request's progress; the driver updates it after each step. */
export interface PlanState<B extends PlanBackend> {
  /** Attempts started so far. */
  attempts: number;
  /** Backends this request has tried, each once. */
  readonly tried: B[];
  /** Backoffs taken so far (the exponent of the next one). */
  backoffs: number;
  /** The previous step was a backoff: the next pick may go to a backend tried before. */
  backedOff: boolean;
  lastError: AttemptError | undefined;
}

export interface PlanContext<B extends PlanBackend> {
  readonly backends: readonly B[];
  /** Eligible right now (health, breaker, parking, limits, key). */
  readonly eligible: (backend: B) => boolean;
  /** The strategy's choice among `candidates` (never empty): a position. */
  readonly pick: (candidates: readonly B[]) => number;
  readonly random: Random;
  readonly numRetries: number;
  readonly retryDelayMs: number;
  /** Monotonic ms by which the whole request must be answered. */
  readonly deadline: number;
}

export type Step<B> =
  | { readonly kind: 'attempt'; readonly backend: B; readonly timeoutMs: number; readonly isRetry: boolean }
  | { readonly kind: 'wait'; readonly ms: number }
  | { readonly kind: 'stop'; readonly reason: StopReason };

export function newPlanState<B extends PlanBackend>(): PlanState<B> {
  return { attempts: 0, tried: [], backoffs: 0, backedOff: false, lastError: undefined };
}

function candidates<B extends PlanBackend>(ctx: PlanContext<B>, exclude: readonly B[]): B[] {
  const out: B[] = [];
  for (const b of ctx.backends) if (!exclude.includes(b) && ctx.eligible(b)) out.push(b);
  return out;
}

const NONE: readonly never[] = [];

/** The next step of a request, given its state and the time. Pure apart from reading eligibility. */
export function nextStep<B extends PlanBackend>(
  state: PlanState<B>,
  ctx: PlanContext<B>,
  now: number,
  aborted: boolean,
): Step<B> {
  if (aborted) return { kind: 'stop', reason: 'the caller went away' };
  if (state.attempts > ctx.numRetries) return { kind: 'stop', reason: 'attempts exhausted' };
  if (now >= ctx.deadline) return { kind: 'stop', reason: 'deadline' };
  const pool = candidates(ctx, state.backedOff ? NONE : state.tried);
  if (pool.length === 0 && state.tried.length > 0 && !state.backedOff) {
    // Every usable backend was tried: back off, then try one of them again.
    if (candidates(ctx, NONE).length === 0) return { kind: 'stop', reason: 'no eligible backend left' };
    const ms = ctx.retryDelayMs * 2 ** state.backoffs * (0.5 + ctx.random() / 2);
    if (now + ms >= ctx.deadline) return { kind: 'stop', reason: 'deadline' };
    return { kind: 'wait', ms };
  }
  if (pool.length === 0) return { kind: 'stop', reason: 'no eligible backend left' };
  const backend = pool[ctx.pick(pool)]!;
  // The retry budget guards against amplifying load on struggling backends (timeouts, 5xx, 429).
  // Failing over after a connection failure (a dead or restarting backend) is exempt: rerank
  // calls are idempotent and the dead backend takes no load either way.
  const isRetry = state.attempts > 0 && state.lastError?.kind !== 'network';
  return { kind: 'attempt', backend, timeoutMs: Math.min(backend.spec.timeoutMs, ctx.deadline - now), isRetry };
}

/** Records a finished backoff in `state`. */
export function afterWait<B extends PlanBackend>(state: PlanState<B>): void {
  state.backoffs++;
  state.backedOff = true;
}

/** Records a failed attempt in `state`. */
export function afterFailure<B extends PlanBackend>(state: PlanState<B>, backend: B, error: AttemptError): void {
  state.attempts++;
  if (!state.tried.includes(backend)) state.tried.push(backend);
  state.backedOff = false;
  state.lastError = error;
}

/**
 * Hedging: how long to wait for an attempt before sending the same call to a second backend. A
 * configured `hedge_after` wins; otherwise the pool's recent p95 (undefined until enough calls
 * have been seen: no hedge). Never at or past the attempt's own timeout.
 */
export function hedgeDelayMs(
  hedgeAfterMs: number | undefined,
  recentP95Ms: number | undefined,
  attemptTimeoutMs: number,
): number | undefined {
  const delay = hedgeAfterMs ?? recentP95Ms;
  return delay === undefined || delay >= attemptTimeoutMs ? undefined : delay;
}

/**
 * The hedge of an attempt still in flight after its hedge delay: a backend neither tried nor in
 * flight for this request, within the attempt count and the deadline. The hedge is a retry (it
 * spends the retry budget); the driver also checks the hedge budget.
 */
export function nextHedge<B extends PlanBackend>(
  state: PlanState<B>,
  ctx: PlanContext<B>,
  now: number,
  inFlight: readonly B[],
  aborted: boolean,
): Step<B> {
  if (aborted) return { kind: 'stop', reason: 'the caller went away' };
  if (state.attempts + inFlight.length > ctx.numRetries) return { kind: 'stop', reason: 'attempts exhausted' };
  if (now >= ctx.deadline) return { kind: 'stop', reason: 'deadline' };
  const pool: B[] = [];
  for (const b of ctx.backends) if (!state.tried.includes(b) && !inFlight.includes(b) && ctx.eligible(b)) pool.push(b);
  if (pool.length === 0) return { kind: 'stop', reason: 'no eligible backend left' };
  const backend = pool[ctx.pick(pool)]!;
  return { kind: 'attempt', backend, timeoutMs: Math.min(backend.spec.timeoutMs, ctx.deadline - now), isRetry: true };
}
