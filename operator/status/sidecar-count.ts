/**
 * Pure: the `sidecar_count` the operator renders for a pool, from the pool's sidecar pods (not
 * terminating). Every sidecar enforces `ceil(limit / sidecar_count)` without Redis (and falls back
 * to it when Redis fails), so a count that is too low lets the fleet go over a limit and one that
 * is too high only wastes some of it. Hence the hysteresis, as the HorizontalPodAutoscaler's
 * scale-down stabilization: a higher count is rendered at once; a lower one only after it has
 * been observed for `stabilizationMs` (a rolling update's surge pods come and go without a render
 * per pod, and a scale-down is followed once it is real). The state lives in the pool's status, so
 * an operator restart keeps it.
 */
import type { PoolStatus } from '../crd/pool-schema.ts';
import { selectsSidecar } from '../controller/event-routing.ts';
import { POOL_LABEL } from '../crd/labels.ts';
import type { LabelSelector } from '../crd/pool-schema.ts';

export type SidecarCount = NonNullable<PoolStatus['sidecarCount']>;

export const DEFAULT_STABILIZATION_MS = 60_000;

interface PodLike {
  metadata: { labels?: Record<string, string>; deletionTimestamp?: string };
}

/** The pool's sidecar pods: selected by sidecarSelector, or injected for this pool; terminating ones do not count. */
export function countSidecars(pods: readonly PodLike[], pool: string, selector: LabelSelector | undefined): number {
  let n = 0;
  for (const p of pods) {
    if (p.metadata.deletionTimestamp !== undefined) continue;
    if (p.metadata.labels?.[POOL_LABEL] === pool || selectsSidecar(selector, pool, p.metadata.labels)) n++;
  }
  return n;
}

/**
 * The count to render now. `previous`: what the status says was rendered; `observed`: pods now
 * (0: none seen — the spec's own sidecarCount, or the previous count, stays); `now`: epoch ms.
 */
/**
 * A count rounded up to a coarse step above 16 (at most 12.5% more: 17 -> 18, 100 -> 104,
 * 1000 -> 1024). Every change of the rendered count is a new config for every sidecar of the
 * pool, so a scale-up from 0 to 1,000 pods renders about 60 times, not 1,000; a higher count is
 * always safe (a smaller static share).
 */
export function roundedCount(n: number): number {
  if (n <= 16) return n;
  const step = 2 ** Math.floor(Math.log2(n / 8));
  return Math.ceil(n / step) * step;
}

export function nextSidecarCount(
  previous: SidecarCount | undefined,
  observed: number,
  now: number,
  stabilizationMs: number,
): SidecarCount | undefined {
  if (observed === 0) return previous === undefined ? undefined : { rendered: previous.rendered, observed: 0 };
  const wanted = roundedCount(observed);
  if (previous === undefined || wanted >= previous.rendered) return { rendered: wanted, observed };
  const since = previous.loweringSince === undefined ? now : Date.parse(previous.loweringSince);
  if (now - since >= stabilizationMs) return { rendered: wanted, observed };
  return { rendered: previous.rendered, observed, loweringSince: new Date(since).toISOString() };
}
