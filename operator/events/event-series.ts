/**
 * Pure: one Event object per (object, type, reason), like client-go's EventCorrelator. Repeats
 * raise its count and move lastTimestamp, and the message becomes the latest one; the object is
 * created at once, then patched at most once per `minPatchIntervalMs` however fast it repeats.
 */

export interface InvolvedObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
  readonly namespace: string;
  readonly uid: string | undefined;
}

export interface EventSeries {
  readonly involved: InvolvedObject;
  readonly type: 'Normal' | 'Warning';
  readonly reason: string;
  message: string;
  /** Occurrences so far, and how many the stored Event object shows. */
  count: number;
  writtenCount: number;
  /** Wall-clock ms of the first and the latest occurrence. */
  readonly firstAt: number;
  lastAt: number;
  /** The Event object's name once created (undefined: not created, or gone). */
  name: string | undefined;
  /** Monotonic ms of the last write, for the patch interval. */
  lastWriteAt: number | undefined;
  failures: number;
}

export type NextWrite =
  | { readonly kind: 'none' }
  | { readonly kind: 'create' }
  | { readonly kind: 'patch' }
  | { readonly kind: 'wait'; readonly ms: number };

export function seriesKey(involved: InvolvedObject, type: string, reason: string): string {
  return `${involved.namespace}/${involved.kind}/${involved.name}/${involved.uid ?? ''}/${type}/${reason}`;
}

export function nextWrite(series: EventSeries, now: number, minPatchIntervalMs: number): NextWrite {
  if (series.count === series.writtenCount) return { kind: 'none' };
  const since = series.lastWriteAt === undefined ? Infinity : now - series.lastWriteAt;
  // The first occurrence is created at once; after a failed write, wait as for a patch.
  if (series.name === undefined && series.failures === 0) return { kind: 'create' };
  if (since < minPatchIntervalMs) return { kind: 'wait', ms: minPatchIntervalMs - since };
  return { kind: series.name === undefined ? 'create' : 'patch' };
}
