/**
 * The nesting limit for request JSON. JSON.parse copes with any depth, but rendering an answer that
 * echoes a 10,000-deep document overflows the stack in JSON.stringify, after the backend already
 * did the work. Documents are checked when they are read, so nothing deeper reaches a backend.
 */

/** Arrays and objects nest at most this deep in a request; the body itself is level 1. */
export const MAX_JSON_DEPTH = 32;

/** The level of each `documents[i]`: inside the documents array, inside the body. */
export const DOCUMENT_LEVEL = 3;

/** True when `value`, sitting at `level`, holds an array or object deeper than MAX_JSON_DEPTH. */
export function nestsTooDeep(value: unknown, level: number): boolean {
  if (value === null || typeof value !== 'object') return false;
  if (level > MAX_JSON_DEPTH) return true;
  if (Array.isArray(value)) {
    for (const item of value) if (nestsTooDeep(item, level + 1)) return true;
    return false;
  }
  const object = value as Record<string, unknown>;
  for (const key in object) {
    if (Object.hasOwn(object, key) && nestsTooDeep(object[key], level + 1)) return true;
  }
  return false;
}
