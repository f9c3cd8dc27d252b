/**
 * Cohere v1's `rank_fields`: a document object becomes the text "key: value" per listed field, in
 * the listed order. Only a document's own scalar fields count: an object or array value is a 400
 * (String() of it would run caller-chosen shapes and say nothing useful), a missing or null field
 * is left out. Leaving missing fields out and dropping repeated names keeps each text no longer
 * than its document, so a short body cannot expand into huge texts.
 */
import { invalidRequest } from '../errors.ts';
import type { Body } from './request-fields.ts';

/** At most this many `rank_fields`; each is looked up in every document. */
export const MAX_RANK_FIELDS = 64;

/** Checks the count and drops repeats (the first occurrence keeps its place). */
export function distinctRankFields(fields: readonly string[]): readonly string[] {
  if (fields.length > MAX_RANK_FIELDS)
    throw invalidRequest('rank_fields', `expected at most ${MAX_RANK_FIELDS} field names`);
  return fields.length === 1 ? fields : [...new Set(fields)];
}

function scalarText(value: unknown, path: string): string | undefined {
  if (typeof value === 'string') return value;
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value))) return String(value);
  throw invalidRequest(path, 'expected a string, a finite number, true, false or null (a rank field)');
}

export function rankFieldsText(item: Body, path: string, fields: readonly string[]): string {
  let text = '';
  for (const key of fields) {
    const value = scalarText(Object.hasOwn(item, key) ? item[key] : undefined, `${path}.${key}`);
    if (value === undefined) continue;
    text = text === '' ? `${key}: ${value}` : `${text}\n${key}: ${value}`;
  }
  return text;
}
