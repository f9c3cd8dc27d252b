/**
 * The sidecar's entry point in the image, the chart's gateway and the injected container: reads
 * the container's memory limit, then replaces itself (execve, same PID, so signals still reach
 * it) with Node running the sidecar under heap limits that fit (launch/heap-plan.ts). The one
 * place the sidecar's V8 flags are decided.
 *
 *   node sidecar/launch.ts            # runs sidecar/main.ts
 *   node launch.mjs                   # the image: runs main.mjs beside it (scripts/bundle.ts)
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { memoryLimitBytes } from './launch/cgroup-limit.ts';
import { heapPlan } from './launch/heap-plan.ts';

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

// The bundle (scripts/bundle.ts) sits beside its own main.mjs; the sources beside main.ts.
const program = fileURLToPath(new URL(import.meta.url.endsWith('.mjs') ? './main.mjs' : './main.ts', import.meta.url));
const userFlags = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/).filter((f) => f !== '')];
const plan = heapPlan(memoryLimitBytes(readText), userFlags, process.env);
// The sidecar logs this line with its start-up message (main.ts reads it back).
const env = { ...process.env, ...plan.env, RERANKER_HEAP_PLAN: plan.summary };
try {
  if (process.execve === undefined) throw new Error(`process.execve needs Node >= 22.15 (this is ${process.version})`);
  process.execve(
    process.execPath,
    [process.execPath, ...process.execArgv, ...plan.flags, program, ...process.argv.slice(2)],
    env,
  );
} catch (error) {
  // Serving with V8's own heap sizing beats not serving: run the sidecar in this process.
  process.stderr.write(
    `reranker-lb: launcher: cannot re-exec Node with ${plan.flags.join(' ') || 'no flags'} (${(error as Error).message}); starting without them\n`,
  );
  process.env.RERANKER_HEAP_PLAN = `not applied: ${plan.summary}`;
  await import(pathToFileURL(program).href);
}
