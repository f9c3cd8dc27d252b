/**
 * Prints, one per line, every source file an entry point loads through relative imports (the
 * entry point included, tests never): what an image ships of the repo, and nothing else.
 * Usage: node images/app-files.ts sidecar/main.ts
 */
import { readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
// Static imports and re-exports (`import x from './a.ts'`, `export * from './b.ts'`), and
// `import('./c.ts')` with a literal specifier.
const SPECIFIER = /(?:\bfrom\s*|\bimport\s*\(?\s*)['"](\.{1,2}\/[^'"]+)['"]/g;

function closure(entry: string): string[] {
  const seen = new Set<string>();
  const pending = [normalize(entry)];
  while (pending.length > 0) {
    const file = pending.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    const text = readFileSync(join(ROOT, file), 'utf8');
    for (const match of text.matchAll(SPECIFIER)) {
      pending.push(relative(ROOT, join(ROOT, dirname(file), match[1]!)));
    }
  }
  return [...seen].sort();
}

const entry = process.argv[2];
if (entry === undefined) {
  console.error('usage: node images/app-files.ts <entry.ts>');
  process.exit(2);
}
const files = closure(entry);
// The fake backend's image ships the test double itself (test/fake-reranker/): its own folder is
// allowed; any other test code, and test files anywhere, are not.
const own = `${dirname(normalize(entry))}/`;
const tests = files.filter((f) => /\.test\.ts$/.test(f) || (/(^|\/)test\//.test(f) && !f.startsWith(own)));
if (tests.length > 0) {
  console.error(`app-files: ${entry} imports test code: ${tests.join(', ')}`);
  process.exit(1);
}
console.log(files.join('\n'));
