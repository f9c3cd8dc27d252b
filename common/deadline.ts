/**
 * A lifetime with a deadline: an AbortSignal aborted on a timer (the injected one) when the
 * deadline passes, or at once when its parent lifetime ends. Nothing checks a clock after an
 * await: whatever runs under the signal (API calls, timers) is cancelled when it fires.
 */
import type { Timers } from './clock.ts';

export interface Deadline {
  readonly signal: AbortSignal;
  /** The work finished in time: stop the timer and let go of the parent. */
  clear(): void;
}

/** Thrown (as the signal's reason) when a deadline passes. */
export class DeadlineExceededError extends Error {
  readonly code = 'DEADLINE_EXCEEDED';
  constructor(what: string, ms: number) {
    super(`${what}: deadline of ${ms} ms exceeded`);
    this.name = 'DeadlineExceededError';
  }
}

export function deadline(timers: Timers, ms: number, what: string, parent?: AbortSignal): Deadline {
  const controller = new AbortController();
  const onParent = () => controller.abort(parent!.reason);
  const handle = timers.setTimeout(() => {
    parent?.removeEventListener('abort', onParent);
    controller.abort(new DeadlineExceededError(what, ms));
  }, ms);
  if (parent?.aborted) controller.abort(parent.reason);
  else parent?.addEventListener('abort', onParent, { once: true });
  return {
    signal: controller.signal,
    clear() {
      timers.clearTimeout(handle);
      parent?.removeEventListener('abort', onParent);
    },
  };
}
