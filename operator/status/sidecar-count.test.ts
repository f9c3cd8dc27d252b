/** The sidecar_count the operator renders: up at once, down only after the stabilization window. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { countSidecars, nextSidecarCount, roundedCount, type SidecarCount } from './sidecar-count.ts';

const MIN = 60_000;
const T = Date.parse('2026-12-03T07:00:00Z');

/** Walks observations (ms after T, pods) and returns the rendered count after each. */
function walk(steps: readonly [number, number][]): number[] {
  let state: SidecarCount | undefined;
  return steps.map(([at, pods]) => {
    state = nextSidecarCount(state, pods, T + at, MIN);
    return state?.rendered ?? 0;
  });
}

test('more pods: rendered at once', () => {
  assert.deepEqual(
    walk([
      [0, 2],
      [1000, 6],
    ]),
    [2, 6],
  );
});

test("a rolling update's surge (4 -> 5 -> 4 pods within a minute) renders 5 once, and 4 only after the minute", () => {
  assert.deepEqual(
    walk([
      [0, 4],
      [1000, 5],
      [20_000, 4],
      [40_000, 5],
      [45_000, 4],
      [45_000 + MIN - 1, 4],
      [45_000 + MIN, 4],
    ]),
    [4, 5, 5, 5, 5, 5, 4],
  );
});

test('fewer pods: rendered once the lower count has been seen for the whole window', () => {
  assert.deepEqual(
    walk([
      [0, 6],
      [1000, 3],
      [30_000, 3],
      [1000 + MIN, 3],
    ]),
    [6, 6, 6, 3],
  );
  const pending = nextSidecarCount({ rendered: 6, observed: 6 }, 3, T, MIN);
  assert.equal(pending?.loweringSince, new Date(T).toISOString(), 'the status says since when');
});

test('above 16 pods the count is rounded up (at most 12.5%), so a scale-up to 1,000 renders ~60 configs, not 1,000', () => {
  assert.deepEqual([16, 17, 31, 32, 100, 1000].map(roundedCount), [16, 18, 32, 32, 104, 1024]);
  const renders = new Set<number>();
  let state: SidecarCount | undefined;
  for (let pods = 1; pods <= 1000; pods++) {
    state = nextSidecarCount(state, pods, T, MIN);
    renders.add(state!.rendered);
    assert.ok(state!.rendered >= pods && state!.rendered <= Math.max(pods, pods * 1.125));
  }
  assert.ok(renders.size <= 70, `${renders.size} renders`);
});

test('no pod seen: nothing rendered from pods (the spec stands), and a seen count is kept', () => {
  assert.equal(nextSidecarCount(undefined, 0, T, MIN), undefined);
  assert.equal(nextSidecarCount({ rendered: 4, observed: 4 }, 0, T, MIN)?.rendered, 4);
});

test("the pool's sidecars: selected or injected for it, not terminating, not another pool's", () => {
  const pod = (labels: Record<string, string>, deleting = false) => ({
    metadata: { labels, ...(deleting ? { deletionTimestamp: '2026-12-03T07:00:00Z' } : {}) },
  });
  const pods = [
    pod({ app: 'search' }),
    pod({ app: 'search' }, true),
    pod({ 'reranker.dev/pool': 'p' }),
    pod({ app: 'search', 'reranker.dev/pool': 'other' }),
    pod({ app: 'billing' }),
  ];
  assert.equal(countSidecars(pods, 'p', { matchLabels: { app: 'search' } }), 2);
  assert.equal(countSidecars(pods, 'p', undefined), 1);
});
