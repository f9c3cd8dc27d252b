/**
 * How long any wait lasts at least before it gives up. A wait ends as soon as its condition holds,
 * so patience costs a passing test nothing; on a loaded 2-core CI machine a process start or a
 * 24 MB upload can take many times what it takes on a quiet one. A test that promises a speed
 * measures it and asserts that, never through a wait's bound.
 */
const MIN_PATIENCE_MS = 30_000;

/**
 * Polls `check` until it returns a value other than undefined/false (thrown errors count as "not
 * yet"), for conditions driven by real timers and other processes. Gives up after `ms` (at least
 * MIN_PATIENCE_MS).
 */
export async function eventually<T>(
  check: () => T | undefined | false | Promise<T | undefined | false>,
  ms = 5000,
  what = 'condition',
): Promise<T> {
  const patience = Math.max(ms, MIN_PATIENCE_MS);
  const until = Date.now() + patience;
  let last: unknown;
  while (Date.now() < until) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      last = error;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out after ${patience} ms waiting for ${what}${last === undefined ? '' : `: ${String(last)}`}`);
}
