/** Checks a backend answer and puts it in the caller's order: best first, cut to top_n. Pure. */
import type { RankedAnswer, ScoredIndex } from '../api/canonical.ts';
import type { ParsedAnswer } from './formats/types.ts';

function byScoreThenIndex(a: ScoredIndex, b: ScoredIndex): number {
  return b.score - a.score || a.index - b.index;
}

/** Throws a string naming the defect when the answer cannot be trusted. */
export function rankAnswer(parsed: ParsedAnswer, documentCount: number, topN: number | undefined): RankedAnswer {
  const results = parsed.results;
  if (results.length === 0) throw 'no results';
  if (results.length > documentCount) throw `${results.length} results for ${documentCount} documents`;
  const seen = new Uint8Array(documentCount);
  for (const { index, score } of results) {
    if (!Number.isInteger(index) || index < 0 || index >= documentCount) throw `index ${index} out of range`;
    if (seen[index] === 1) throw `index ${index} appears twice`;
    if (!Number.isFinite(score)) throw `score for index ${index} is not finite`;
    seen[index] = 1;
  }
  results.sort(byScoreThenIndex);
  if (topN !== undefined && topN < results.length) results.length = topN;
  return { results, model: parsed.model, tokens: parsed.tokens, usageSource: parsed.usageSource };
}
