/** Checks a backend answer and puts it in the caller's order: best first, cut to top_n. Pure. */
import type { RankedAnswer, ScoredIndex } from '../api/canonical.ts';
import { MalformedAnswer } from './formats/read-answer.ts';
import type { ParsedAnswer } from './formats/types.ts';

function byScoreThenIndex(a: ScoredIndex, b: ScoredIndex): number {
  return b.score - a.score || a.index - b.index;
}

/**
 * Throws MalformedAnswer when the answer cannot be trusted: no results, an index out of range or
 * repeated, a score that is not finite, or fewer results than asked for (every document, or
 * top_n of them) — a short answer would silently drop documents.
 */
export function rankAnswer(parsed: ParsedAnswer, documentCount: number, topN: number | undefined): RankedAnswer {
  const results = parsed.results;
  if (results.length === 0) throw new MalformedAnswer('no results');
  const expected = topN === undefined ? documentCount : Math.min(topN, documentCount);
  if (results.length > documentCount || results.length < expected) {
    throw new MalformedAnswer(
      `${results.length} results for ${documentCount} documents${topN === undefined ? '' : ` (top_n ${topN})`}`,
    );
  }
  const seen = new Uint8Array(documentCount);
  for (const { index, score } of results) {
    if (!Number.isInteger(index) || index < 0 || index >= documentCount)
      throw new MalformedAnswer(`index ${index} out of range`);
    if (seen[index] === 1) throw new MalformedAnswer(`index ${index} appears twice`);
    if (!Number.isFinite(score)) throw new MalformedAnswer(`score for index ${index} is not finite`);
    seen[index] = 1;
  }
  results.sort(byScoreThenIndex);
  if (topN !== undefined && topN < results.length) results.length = topN;
  return { results, model: parsed.model, tokens: parsed.tokens, usageSource: parsed.usageSource };
}
