/**
 * Generated sections of docs/benchmarks.md, each between `<!-- name:start -->` and
 * `<!-- name:end -->`, so several runners (make bench's pinned and shared-core runs, feature
 * scenarios) can each rewrite their own part and keep the others.
 */

function markers(name: string): [string, string] {
  return [`<!-- ${name}:start -->`, `<!-- ${name}:end -->`];
}

/** `text` with section `name` replaced by `content` (appended when absent). */
export function replaceSection(text: string, name: string, content: string): string {
  const [open, close] = markers(name);
  const block = `${open}\n${content.trimEnd()}\n${close}`;
  const a = text.indexOf(open);
  const b = text.indexOf(close);
  if (a >= 0 && b > a) return text.slice(0, a) + block + text.slice(b + close.length);
  return `${text.trimEnd()}\n\n${block}\n`;
}

/** Every marked section of `text`, whole (markers included), in order. */
export function sectionsOf(text: string): string[] {
  return [...text.matchAll(/<!-- ([\w-]+):start -->[\s\S]*?<!-- \1:end -->/g)].map((m) => m[0]);
}
