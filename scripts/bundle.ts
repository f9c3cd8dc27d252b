/**
 * One JavaScript file per program, built at image time: the sidecar's sources and dependencies
 * in a single module instead of ~200 TypeScript files and packages. Node then neither loads its
 * type stripper (~12 MB of memory for the first .ts file) nor resolves hundreds of modules: an
 * idle sidecar's anonymous memory falls from ~65 to ~41 MB and start to /ready by about a third
 * (docs/performance.md "Footprint"). Tests and `make sidecar` keep running the sources.
 *
 *   node scripts/bundle.ts <out dir>     # writes launch.mjs and main.mjs (the sidecar), prints sizes
 */
import { build } from 'esbuild';
import { statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const out = process.argv[2];
if (out === undefined) {
  console.error('usage: node scripts/bundle.ts <out dir>');
  process.exit(2);
}

// CommonJS dependencies (undici, pino, prom-client) call require() for Node's built-ins; an ES
// module has no require of its own, so the bundle makes one.
const banner =
  "import { createRequire as __bundleRequire } from 'node:module'; const require = __bundleRequire(import.meta.url);";

for (const [entry, file] of [
  ['sidecar/launch.ts', 'launch.mjs'],
  ['sidecar/main.ts', 'main.mjs'],
] as const) {
  await build({
    entryPoints: [join(root, entry)],
    outfile: resolve(out, file),
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node22',
    banner: { js: banner },
    // Names stay readable in stack traces and profiles; only whitespace is dropped.
    minifyWhitespace: true,
    legalComments: 'none',
    logLevel: 'warning',
  });
  console.error(`bundle: ${file} ${(statSync(resolve(out, file)).size / 1024).toFixed(0)} KiB`);
}
