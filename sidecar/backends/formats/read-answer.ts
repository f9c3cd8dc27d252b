/** Shared readers for backend answers; they throw a string naming what is wrong. */
import type { ScoredIndex, UsageSource } from '../../api/canonical.ts';

export function readScoredList(list: unknown, scoreKey: 'relevance_score' | 'score'): ScoredIndex[] {
  if (!Array.isArray(list)) throw `expected a results array, got ${typeof list}`;
  const out = new Array<ScoredIndex>(list.length);
  for (let i = 0; i < list.length; i++) {
    const item = list[i] as Record<string, unknown> | null;
    if (item === null || typeof item !== 'object') throw `results[${i}] is not an object`;
    const index = item.index;
    const score = item[scoreKey];
    if (typeof index !== 'number' || typeof score !== 'number') throw `results[${i}] lacks a numeric index or ${scoreKey}`;
    out[i] = { index, score };
  }
  return out;
}

export function objectBody(body: unknown): Record<string, unknown> {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw 'expected a JSON object';
  return body as Record<string, unknown>;
}

export function bodyUsage(body: Record<string, unknown>): { tokens: number | undefined; usageSource: UsageSource } {
  const usage = body.usage as Record<string, unknown> | undefined;
  const tokens = usage?.total_tokens ?? usage?.prompt_tokens;
  return typeof tokens === 'number' && tokens >= 0
    ? { tokens, usageSource: 'body' }
    : { tokens: undefined, usageSource: 'none' };
}

export function optionalString(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}
