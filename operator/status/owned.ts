/**
 * Pure: the part of a pool's status this operator owns. The operator writes status by server-side
 * apply, so it owns exactly what it sends: every field of the status schema except `conditions`,
 * and of `conditions` (a map-list keyed by type) only the types it computes. Conditions of other
 * field managers live beside ours; the operator neither compares nor touches them.
 */
import { poolStatusSchema, type Condition, type PoolStatus } from '../crd/pool-schema.ts';
import { sameStatus } from './conditions.ts';

/** Status fields besides conditions: all the operator's. */
const OWN_FIELDS = Object.keys(poolStatusSchema.shape).filter((k) => k !== 'conditions') as (keyof PoolStatus)[];

const byType = (a: Condition, b: Condition) => (a.type < b.type ? -1 : a.type > b.type ? 1 : 0);

/** `stored` cut down to what writing `ours` would own: our fields, and the condition types `ours` has (ordered by type). */
export function ownPart(stored: PoolStatus | undefined, ours: PoolStatus): PoolStatus {
  const types = new Set((ours.conditions ?? []).map((c) => c.type));
  const out: Record<string, unknown> = {};
  for (const field of OWN_FIELDS) if (stored?.[field] !== undefined) out[field] = stored[field];
  const conditions = (stored?.conditions ?? []).filter((c) => types.has(c.type)).sort(byType);
  if (conditions.length > 0) out.conditions = conditions;
  return out as PoolStatus;
}

/** Whether `stored` already says what `ours` says, whatever other managers added beside it. */
export function holdsOwn(stored: PoolStatus | undefined, ours: PoolStatus): boolean {
  return sameStatus(ownPart(stored, ours), ownPart(ours, ours));
}

/**
 * Our fields that `stored` still has although `ours` omits them. After our apply that can only be
 * a field another manager co-owns: on a cluster upgraded from operator versions that wrote status
 * by JSON merge patch, that older writer (manager "undici", operation Update) co-owns the fields
 * it set, so an apply that stops setting one does not remove it.
 */
export function strayFields(stored: PoolStatus | undefined, ours: PoolStatus): (keyof PoolStatus)[] {
  return OWN_FIELDS.filter((field) => stored?.[field] !== undefined && ours[field] === undefined);
}
