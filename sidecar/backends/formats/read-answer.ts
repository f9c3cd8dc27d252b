/** Shared readers for backend answers; they throw MalformedAnswer naming what is wrong. */
import type { ScoredIndex, UsageSource } from '../../api/canonical.ts';

/** A backend answer that cannot be trusted. The message is ours (no backend text in it). */
export class MalformedAnswer extends Error {
  readonly code = 'MALFORMED_ANSWER' as const;
  constructor(defect: string) {
    super(defect);
    this.name = 'MalformedAnswer';
  }
}

export function readScoredList(list: unknown, scoreKey: 'relevance_score' | 'score'): ScoredIndex[] {
  if (!Array.isArray(list)) throw new MalformedAnswer(`expected a results array, got ${typeof list}`);
  const out = new Array<ScoredIndex>(list.length);
  for (let i = 0; i < list.length; i++) {
    const item = list[i] as Record<string, unknown> | null;
    if (item === null || typeof item !== 'object') throw new MalformedAnswer(`results[${i}] is not an object`);
    const index = item.index;
    const score = item[scoreKey];
    if (typeof index !== 'number' || typeof score !== 'number')
      throw new MalformedAnswer(`results[${i}] lacks a numeric index or ${scoreKey}`);
    out[i] = { index, score };
  }
  return out;
}

export function objectBody(body: unknown): Record<string, unknown> {
  if (body === null || typeof body !== 'object' || Array.isArray(body))
    throw new MalformedAnswer('expected a JSON object');
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
