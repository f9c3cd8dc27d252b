/** Field readers shared by every client format; each error names the field. */
import type { RerankRequest } from './canonical.ts';
import { invalidRequest } from '../errors.ts';
import { DOCUMENT_LEVEL, MAX_JSON_DEPTH, nestsTooDeep } from './json-depth.ts';
import { rankFieldsText } from './rank-fields.ts';

export type Body = Record<string, unknown>;

export function asBody(value: unknown): Body {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw invalidRequest('body', 'expected a JSON object');
  }
  return value as Body;
}

export function readQuery(body: Body): string {
  const query = body.query;
  if (typeof query !== 'string' || query.trim() === '') throw invalidRequest('query', 'expected a non-empty string');
  return query;
}

export function readOptionalString(body: Body, field: string): string | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw invalidRequest(field, 'expected a string');
  return value;
}

export function readBoolean(body: Body, field: string, fallback: boolean): boolean {
  const value = body[field];
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'boolean') throw invalidRequest(field, 'expected true or false');
  return value;
}

export function readOptionalBoolean(body: Body, field: string): boolean | undefined {
  const value = body[field];
  return value === undefined || value === null ? undefined : readBoolean(body, field, false);
}

/** A safe integer: 1e300 is an integer to JavaScript, but not one a backend or a loop can use. */
export function readPositiveInt(body: Body, field: string): number | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw invalidRequest(field, 'expected a positive integer');
  }
  return value;
}

function nonEmptyArray(body: Body, field: string): unknown[] {
  const value = body[field];
  if (!Array.isArray(value) || value.length === 0) throw invalidRequest(field, 'expected a non-empty array');
  return value;
}

export interface Documents {
  readonly texts: readonly string[];
  readonly originals: readonly unknown[] | undefined;
}

/**
 * Documents as strings or `{text}` objects; `rankFields` (Cohere v1) builds text from other fields.
 * An all-string array is used as is, without a copy. Objects are kept to be echoed back, so they
 * must not nest deeper than MAX_JSON_DEPTH.
 */
function readDocuments(body: Body, field: string, rankFields?: readonly string[]): Documents {
  const raw = nonEmptyArray(body, field);
  let i = 0;
  while (i < raw.length && typeof raw[i] === 'string') i++;
  if (i === raw.length) return { texts: raw as string[], originals: undefined };
  const texts = new Array<string>(raw.length);
  for (let j = 0; j < raw.length; j++) {
    const item = raw[j];
    if (typeof item === 'string') texts[j] = item;
    else if (item !== null && typeof item === 'object' && !Array.isArray(item)) {
      const path = `${field}[${j}]`;
      if (nestsTooDeep(item, DOCUMENT_LEVEL))
        throw invalidRequest(path, `nested deeper than ${MAX_JSON_DEPTH} levels (the body is level 1)`);
      texts[j] = objectText(item as Body, path, rankFields);
    } else throw invalidRequest(`${field}[${j}]`, 'expected a string or an object with "text"');
  }
  return { texts, originals: raw };
}

function objectText(item: Body, path: string, rankFields: readonly string[] | undefined): string {
  if (rankFields !== undefined) return rankFieldsText(item, path, rankFields);
  if (typeof item.text !== 'string') throw invalidRequest(`${path}.text`, 'expected a string');
  return item.text;
}

export function readStringArray(body: Body, field: string): string[] {
  const raw = nonEmptyArray(body, field);
  for (let i = 0; i < raw.length; i++) {
    if (typeof raw[i] !== 'string') throw invalidRequest(`${field}[${i}]`, 'expected a string');
  }
  return raw as string[];
}

export function readOptionalStringArray(body: Body, field: string): string[] | undefined {
  return body[field] === undefined || body[field] === null ? undefined : readStringArray(body, field);
}

export interface DocumentRequestOptions {
  /** `return_documents` default, or 'never' for formats that never echo documents (Cohere v2). */
  readonly returnDocuments: boolean | 'never';
  readonly rankFields?: readonly string[];
  /** Read Cohere v2's `max_tokens_per_doc`. */
  readonly maxTokensPerDoc?: boolean;
}

/** The request shape shared by the native, Cohere and Jina formats (`documents`, `top_n`). */
export function documentRequest(body: Body, options: DocumentRequestOptions): RerankRequest {
  const docs = readDocuments(body, 'documents', options.rankFields);
  return {
    model: readOptionalString(body, 'model'),
    query: readQuery(body),
    documents: docs.texts,
    originals: docs.originals,
    topN: readPositiveInt(body, 'top_n'),
    returnDocuments:
      options.returnDocuments === 'never' ? false : readBoolean(body, 'return_documents', options.returnDocuments),
    maxTokensPerDoc: options.maxTokensPerDoc === true ? readPositiveInt(body, 'max_tokens_per_doc') : undefined,
    truncate: undefined,
    truncationDirection: undefined,
    rawScores: undefined,
  };
}
