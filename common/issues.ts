/** Turns zod issues and unknown keys into lines that start with the path at fault. */
import { z } from 'zod';
import { redact, safeUrl } from './redact.ts';

function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out === '' ? '(root)' : out;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'string') return value.length > 40 ? 'string' : `"${value}"`;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return typeof value;
}

/** Fields whose values are secrets (or may hold them): their values are never echoed. */
const SECRET_FIELD = /key|token|secret|password|passwd|credential|environment_variables/i;
/** Fields holding URLs: echoed without userinfo or query. */
const URL_FIELD = /^(api_base|base_url|apiBase)$/;

/** `, got <value>` for messages, or nothing when the value must not be repeated. */
function gotPart(issue: z.core.$ZodRawIssue): string {
  if (!('input' in issue)) return '';
  const path = (issue as { path?: readonly PropertyKey[] }).path ?? [];
  if (path.some((part) => typeof part === 'string' && SECRET_FIELD.test(part))) return '';
  const last = path[path.length - 1];
  const input =
    typeof last === 'string' && URL_FIELD.test(last) && typeof issue.input === 'string'
      ? redact(safeUrl(issue.input))
      : issue.input;
  return `, got ${describe(input)}`;
}

/**
 * Human wording for one issue, e.g. `expected number >= 0, got -1`. The value is repeated only
 * for fields that cannot hold a secret (config errors reach stderr, logs and the reload API).
 */
export function issueMessage(issue: z.core.$ZodRawIssue): string | undefined {
  const got = gotPart(issue);
  switch (issue.code) {
    case 'invalid_type':
      return issue.input === undefined ? `required (expected ${issue.expected})` : `expected ${issue.expected}${got}`;
    case 'too_small': {
      const min = String(issue.minimum);
      if (issue.origin === 'string')
        return min === '1' ? 'expected a non-empty string' : `expected at least ${min} characters`;
      if (issue.origin === 'array') return `expected at least ${min} item(s)`;
      return `expected ${issue.origin === 'int' ? 'integer' : 'number'} ${issue.inclusive ? '>=' : '>'} ${min}${got}`;
    }
    case 'too_big': {
      const max = String(issue.maximum);
      if (issue.origin === 'array') return `expected at most ${max} item(s)`;
      if (issue.origin === 'string') return `expected at most ${max} characters`;
      return `expected ${issue.origin === 'int' ? 'integer' : 'number'} ${issue.inclusive ? '<=' : '<'} ${max}${got}`;
    }
    case 'invalid_value':
      return `expected one of ${issue.values.map(String).join(', ')}${got}`;
    case 'invalid_union':
      return `unexpected value${got}`;
    default:
      return undefined;
  }
}

/** `where` maps a schema path to where the user wrote it (e.g. a merged section's own name). */
export function formatIssues(
  error: z.ZodError,
  where: (path: PropertyKey[]) => PropertyKey[] = (path) => path,
): string[] {
  return error.issues.map((issue) => `${formatPath(where(issue.path))}: ${issue.message}`);
}

function unwrap(schema: z.ZodType): z.ZodType {
  let current: z.ZodType = schema;
  for (;;) {
    if (current instanceof z.ZodOptional || current instanceof z.ZodDefault || current instanceof z.ZodNullable) {
      current = current.unwrap() as z.ZodType;
    } else if (current instanceof z.ZodPipe) {
      current = current.in as z.ZodType;
    } else {
      return current;
    }
  }
}

/** Paths of keys the schema does not know; they earn a warning, not an error. */
export function findUnknownKeys(schema: z.ZodType, value: unknown, path: PropertyKey[] = []): string[] {
  const inner = unwrap(schema);
  const found: string[] = [];
  if (inner instanceof z.ZodObject && value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const shape = inner.shape as Record<string, z.ZodType>;
    for (const [key, child] of Object.entries(value)) {
      const childSchema = shape[key];
      if (childSchema === undefined) found.push(formatPath([...path, key]));
      else found.push(...findUnknownKeys(childSchema, child, [...path, key]));
    }
  } else if (inner instanceof z.ZodArray && Array.isArray(value)) {
    for (const [i, item] of value.entries())
      found.push(...findUnknownKeys(inner.element as z.ZodType, item, [...path, i]));
  }
  return found;
}
