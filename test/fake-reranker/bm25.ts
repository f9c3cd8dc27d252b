/** A small deterministic lexical scorer: BM25 over the request's own documents, squashed to (0, 1). */
const K1 = 1.2;
const B = 0.75;

function tokens(text: string): string[] {
  return text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
}

export function bm25Scores(query: string, documents: readonly string[]): number[] {
  const docs = documents.map(tokens);
  const avgLength = docs.reduce((sum, d) => sum + d.length, 0) / Math.max(1, docs.length) || 1;
  const terms = [...new Set(tokens(query))];
  const documentFrequency = new Map<string, number>();
  for (const term of terms) documentFrequency.set(term, docs.filter((d) => d.includes(term)).length);
  return docs.map((doc) => {
    let score = 0;
    for (const term of terms) {
      const tf = doc.filter((t) => t === term).length;
      if (tf === 0) continue;
      const df = documentFrequency.get(term)!;
      const idf = Math.log(1 + (docs.length - df + 0.5) / (df + 0.5));
      score += (idf * tf * (K1 + 1)) / (tf + K1 * (1 - B + (B * doc.length) / avgLength));
    }
    return Math.round((score / (1 + score)) * 1e6) / 1e6;
  });
}
