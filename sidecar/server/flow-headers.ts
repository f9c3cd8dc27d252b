/**
 * The flow-control headers a caller may send, bounded and validated (a bad value is a 400 naming
 * the header, never a silent default):
 * - `x-reranker-priority`: an integer from -1000 to 1000, higher first; default 0; negative is
 *   sheddable (never queued, refused first when the backends are saturated).
 * - `x-reranker-tenant`: 1 to 64 characters of letters, digits and . _ : - ; default one shared tenant.
 */
import { invalidRequest } from '../errors.ts';

export const PRIORITY_HEADER = 'x-reranker-priority';
export const TENANT_HEADER = 'x-reranker-tenant';
const MAX_PRIORITY = 1000;

const INTEGER = /^[+-]?\d{1,4}$/;
const TENANT = /^[A-Za-z0-9._:-]{1,64}$/;

/** undefined when the header is absent; throws a 400 naming the header when it is not a bounded integer. */
export function parsePriority(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = INTEGER.test(value) ? Number(value) : Number.NaN;
  if (!(Math.abs(n) <= MAX_PRIORITY))
    throw invalidRequest(PRIORITY_HEADER, `expected an integer from -${MAX_PRIORITY} to ${MAX_PRIORITY}`);
  return n;
}

/** undefined when the header is absent; throws a 400 naming the header when it is not a short plain name. */
export function parseTenant(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (!TENANT.test(value))
    throw invalidRequest(TENANT_HEADER, 'expected 1 to 64 characters: letters, digits, ".", "_", ":" or "-"');
  return value;
}
