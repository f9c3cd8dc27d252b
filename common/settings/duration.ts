/**
 * Gateway API's `Duration` (GEP-2257): one to four `<1-5 digits><h|m|s|ms>` parts, e.g. "500ms",
 * "30s", "1h30m". The CRD speaks it; the sidecar's YAML speaks seconds, as in the seed.
 */
export const DURATION_PATTERN = '^([0-9]{1,5}(h|m|s|ms)){1,4}$';
const DURATION = new RegExp(DURATION_PATTERN);
const PART = /([0-9]{1,5})(h|ms|m|s)/g;
const MS_PER_UNIT: Readonly<Record<string, number>> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1 };

/** "1m30s" -> 90; undefined when the text is not a Duration. */
export function durationSeconds(text: string): number | undefined {
  if (!DURATION.test(text)) return undefined;
  let ms = 0;
  for (const [, digits, unit] of text.matchAll(PART)) ms += Number(digits) * MS_PER_UNIT[unit!]!;
  return ms / 1000;
}

/** 90 -> "90s", 0.5 -> "500ms", 3600 -> "1h": the shortest single-unit Duration. */
export function formatDuration(seconds: number): string {
  const ms = Math.round(seconds * 1000);
  if (ms === 0) return '0s';
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}
