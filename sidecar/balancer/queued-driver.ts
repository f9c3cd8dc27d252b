/**
 * The attempt plan with flow control in front: a call goes behind waiters of its priority or
 * higher; a call whose plan finds every backend full (none tried, at least one saturated) waits
 * for room and runs its plan again. Broken backends are not a reason to wait: that answer comes
 * at once, as without a queue.
 */
import type { RankedAnswer } from '../api/canonical.ts';
import { drive } from './attempt-driver.ts';
import { anySaturated } from './capacity.ts';
import type { FlowControl, WaitOutcome } from './flow-control.ts';
import type { Generation } from './generation.ts';
import { GenerationPlan, saturationOf } from './generation.ts';
import type { AttemptRecord, RouteOptions } from './route-result.ts';
import { newRun, type DriverDeps, type Run } from './run.ts';
import type { RerankRequest } from '../api/canonical.ts';

export interface QueuedOutcome {
  readonly answer: RankedAnswer | undefined;
  readonly run: Run;
  /** Why the queue refused the call, when it did. */
  readonly refusal: WaitOutcome | undefined;
}

export interface CallTicket {
  readonly priority: number;
  /** The tenant key flow control tracks (bounded). */
  readonly tenant: string;
}

export async function driveQueued(
  deps: DriverDeps,
  flow: FlowControl,
  gen: Generation,
  request: RerankRequest,
  cost: number,
  options: RouteOptions,
  deadline: number,
  attempts: AttemptRecord[],
  ticket: CallTicket,
  admittedBefore: boolean,
  waitUntil: number | undefined,
): Promise<QueuedOutcome> {
  let admitted = admittedBefore;
  let until = waitUntil;
  for (;;) {
    const run = newRun(
      request,
      cost,
      new GenerationPlan(gen, gen.backends, cost, deadline, deps, ticket.priority),
      options,
      options.signal,
      attempts,
      undefined,
    );
    // The plan's first step runs synchronously: an admitted call holds its slot before the next is admitted.
    const pending = drive(deps, run);
    if (admitted) flow.afterAdmitted();
    admitted = false;
    const answer = await pending;
    if (answer !== undefined || run.attempts > 0 || run.stopped !== 'no eligible backend left' || !flow.enabled)
      return { answer, run, refusal: undefined };
    if (!anySaturated(gen.backends, deps.clock.now(), cost, saturationOf(gen), ticket.priority))
      return { answer, run, refusal: undefined };
    until ??= flow.waitUntil(deadline);
    const outcome = await flow.wait(ticket.priority, ticket.tenant, cost, until, options.signal);
    if (outcome !== 'admitted') return { answer: undefined, run, refusal: outcome };
    admitted = true;
  }
}
