/**
 * Reads one metric from a Prometheus text exposition (a backend's /metrics): the sum of its
 * samples (vLLM labels one series per model). The text is untrusted: bounded by the caller's byte
 * limit, read line by line, and only a finite, non-negative value counts.
 */
export function metricValue(text: string, name: string): number | undefined {
  let sum = 0;
  let found = false;
  let from = 0;
  while (from < text.length) {
    let end = text.indexOf('\n', from);
    if (end < 0) end = text.length;
    if (text.startsWith(name, from)) {
      const after = text.charCodeAt(from + name.length);
      // `name{labels} value` or `name value` (not a longer name that starts the same).
      if (after === 123 /* { */ || after === 32 /* space */) {
        const value = sampleValue(text.slice(from + name.length, end));
        if (value !== undefined) {
          sum += value;
          found = true;
        }
      }
    }
    from = end + 1;
  }
  return found ? sum : undefined;
}

function sampleValue(rest: string): number | undefined {
  let tail = rest;
  if (tail.startsWith('{')) {
    const close = tail.lastIndexOf('}');
    if (close < 0) return undefined;
    tail = tail.slice(close + 1);
  }
  const token = tail.trim().split(/\s+/)[0];
  if (token === undefined || token === '') return undefined;
  const value = Number(token);
  return Number.isFinite(value) && value >= 0 ? value : undefined;
}
