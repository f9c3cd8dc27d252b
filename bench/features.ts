/**
 * Benchmarks of splitting, hedging and the canary, on loopback only, in about six minutes (`make bench-features`):
 *
 * 1. Split: a 600-document call against 3 backends whose latency grows per document; p50/p99
 *    with `shard_min_documents` (split over the 3) and without (one backend takes it whole).
 *    Target: split p50 <= 0.4x unsplit.
 * 2. Hedge: one of three backends with a heavy (log-normal) latency tail; p99 with and without
 *    hedging, and the extra calls the backends saw. Target: p99 <= 0.5x unhedged at <= 10% extra.
 * 3. Canary: time for the canary to mark a backend that ranks differently as inconsistent.
 * 4. Fleet: 4 sidecars, skewed traffic, 3 TEI-like backends of unequal capacity: least-queue vs
 *    least-busy at 90% load, then a 2x burst with priorities (bench/lib/fleet-scenario.ts).
 *
 * Fakes and the sidecar are child processes (test/fake-reranker/fake-reranker-cli.ts, sidecar/main.ts); load
 * comes from bench/lib/load-generator.ts's open-loop generator. Writes
 * bench/results/features-latest.json, docs/benchmarks-features.md and a marked section of
 * docs/benchmarks.md (replaced on each run, the rest of that file untouched). `--quick`: shorter
 * phases; `--docs-only`: re-render the docs from the last results.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runLoad, type LoadResult } from './lib/load-generator.ts';
import { start, stopAll, waitForHttp, type Managed } from './lib/processes.ts';
import { fleetScenario } from './lib/fleet-scenario.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const nodeBin = process.execPath;
const work = join(tmpdir(), `reranker-lb-bench-features-${process.pid}`);
mkdirSync(work, { recursive: true });
const quick = process.argv.includes('--quick');
/** `--only fleet` (or split, hedge, canary): run one scenario, keep the others' last results. */
const onlyAt = process.argv.indexOf('--only');
const only = onlyAt >= 0 ? process.argv[onlyAt + 1] : undefined;
let nextPort = 9700;

function log(message: string): void {
  process.stderr.write(`[bench-features] ${message}\n`);
}

interface Fake {
  readonly name: string;
  readonly url: string;
  readonly proc: Managed;
}

async function fake(name: string, args: readonly string[]): Promise<Fake> {
  const port = nextPort++;
  const proc = start(name, nodeBin, [
    join(root, 'test/fake-reranker/fake-reranker-cli.ts'),
    '--port',
    String(port),
    '--name',
    name,
    '--format',
    'native',
    '--scoring',
    'cheap',
    ...args,
  ]);
  const url = `http://127.0.0.1:${port}`;
  await waitForHttp(`${url}/health`);
  return { name, url, proc };
}

async function requestsServed(fakes: readonly Fake[]): Promise<number> {
  let total = 0;
  for (const f of fakes) total += ((await (await fetch(`${f.url}/__stats`)).json()) as { requests: number }).requests;
  return total;
}

async function sidecar(
  name: string,
  fakes: readonly Fake[],
  router: Record<string, unknown>,
): Promise<{ url: string; proc: Managed }> {
  const port = nextPort++;
  const config = join(work, `${name}.yaml`);
  writeFileSync(
    config,
    JSON.stringify({
      model_list: fakes.map((f) => ({ model_name: f.name, litellm_params: { api_base: f.url, api_format: 'native' } })),
      router_settings: {
        enable_request_logging: false,
        health_check_interval: 0,
        fallback_to_local: false,
        retry_delay: 0.05,
        ...router,
      },
    }),
  );
  const proc = start(`sidecar ${name}`, nodeBin, [join(root, 'sidecar/main.ts')], {
    RERANKER_LOAD_BALANCER_ENABLED: 'true',
    RERANKER_CONFIG_PATH: config,
    RERANKER_LB_PORT: String(port),
    RERANKER_LB_HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    RERANKER_SHUTDOWN_DELAY_SECONDS: '0',
  });
  const url = `http://127.0.0.1:${port}`;
  await waitForHttp(`${url}/health`);
  return { url, proc };
}

function documents(n: number): string[] {
  return Array.from(
    { length: n },
    (_d, i) => `document ${i}: a passage of about one hundred characters about topic ${i % 17}, for the benchmark.`,
  );
}

const ms = (value: number) => Math.round(value * 10) / 10;
const latency = (r: LoadResult) => ({
  p50: ms(r.latencyMs.p50),
  p90: ms(r.latencyMs.p90),
  p99: ms(r.latencyMs.p99),
  max: ms(r.latencyMs.max),
  calls: r.sent,
  failed: r.non2xx + r.errors,
});
const ratio = (a: number, b: number) => Math.round((a / b) * 1000) / 1000;

/** 1. Split: 600 documents, 3 backends at 0.5 ms per document (300 ms for the whole call on one). */
async function splitScenario() {
  const perDocumentMs = 0.5;
  const fakes = [];
  for (let i = 1; i <= 3; i++) fakes.push(await fake(`split-${i}`, ['--latency-per-document', String(perDocumentMs)]));
  const body = JSON.stringify({ query: 'topic 3 passage', documents: documents(600), top_n: 10 });
  const rate = 2;
  const seconds = quick ? 8 : 30;
  const out: Record<string, ReturnType<typeof latency>> = {};
  for (const [arm, router] of [
    ['unsplit', { routing_strategy: 'least-busy' }],
    ['split', { routing_strategy: 'least-busy', shard_min_documents: 300 }],
  ] as const) {
    const s = await sidecar(`split-${arm}`, fakes, router);
    log(`split: ${arm}, ${rate} calls/s of 600 documents for ${seconds} s`);
    out[arm] = latency(await runLoad(`${s.url}/rerank`, rate, seconds, body, 2, 10_000));
    await s.proc.stop();
  }
  for (const f of fakes) await f.proc.stop();
  const p50Ratio = ratio(out.split!.p50, out.unsplit!.p50);
  return {
    setup: `3 fake backends, ${perDocumentMs} ms per document (no queueing: a fake serves calls concurrently), 600-document calls at ${rate}/s for ${seconds} s (open loop), least-busy; split arm: shard_min_documents 300`,
    unsplit: out.unsplit!,
    split: out.split!,
    p50_ratio: p50Ratio,
    p99_ratio: ratio(out.split!.p99, out.unsplit!.p99),
    target: 'split p50 <= 0.4x unsplit',
    met: p50Ratio <= 0.4,
  };
}

/** 2. Hedge: backend 1 log-normal (median 20 ms, sigma 1.5), backends 2 and 3 steady at 20 ms. */
async function hedgeScenario() {
  const fakes = [
    await fake('tail-1', ['--latency-ms', '20', '--latency-sigma', '1.5']),
    await fake('steady-2', ['--latency-ms', '20', '--latency-sigma', '0.1']),
    await fake('steady-3', ['--latency-ms', '20', '--latency-sigma', '0.1']),
  ];
  const body = JSON.stringify({ query: 'topic 3 passage', documents: documents(10) });
  const rate = 50;
  const seconds = quick ? 8 : 30;
  const out: Record<string, ReturnType<typeof latency> & { backend_calls: number; extra_calls_percent: number }> = {};
  for (const [arm, router] of [
    ['unhedged', {}],
    ['hedged', { hedging: true }],
  ] as const) {
    const s = await sidecar(`hedge-${arm}`, fakes, { routing_strategy: 'weighted-random', ...router });
    log(`hedge: ${arm}, warm-up then ${rate} calls/s for ${seconds} s`);
    await runLoad(`${s.url}/rerank`, rate, 3, body, 0, 10_000); // warm-up: connections, JIT, the pool's p95
    const before = await requestsServed(fakes);
    const result = await runLoad(`${s.url}/rerank`, rate, seconds, body, 0, 10_000);
    const backendCalls = (await requestsServed(fakes)) - before;
    out[arm] = {
      ...latency(result),
      backend_calls: backendCalls,
      extra_calls_percent: Math.round(((backendCalls - result.sent) / result.sent) * 1000) / 10,
    };
    await s.proc.stop();
  }
  for (const f of fakes) await f.proc.stop();
  const p99Ratio = ratio(out.hedged!.p99, out.unhedged!.p99);
  return {
    setup: `3 fake backends: one log-normal (median 20 ms, sigma 1.5), two at 20 ms (sigma 0.1); 10-document calls at ${rate}/s for ${seconds} s (open loop), weighted-random; hedged arm: hedging on, hedge_after unset (the pool's recent p95), hedge_budget_percent 10`,
    unhedged: out.unhedged!,
    hedged: out.hedged!,
    p99_ratio: p99Ratio,
    target: 'p99 <= 0.5x unhedged at <= 10% extra calls',
    met: p99Ratio <= 0.5 && out.hedged!.extra_calls_percent <= 10,
  };
}

/** 3. Canary: how long until a backend that ranks differently is marked inconsistent (interval 1 s). */
async function canaryScenario() {
  const fakes = [
    await fake('model-a', ['--scoring', 'bm25']),
    await fake('model-b', ['--scoring', 'bm25']),
    await fake('other-model', ['--scoring', 'reversed']),
  ];
  const started = performance.now();
  const s = await sidecar('canary', fakes, { canary: { interval: 1, action: 'eject' } });
  let detectedMs: number | undefined;
  while (performance.now() - started < 15_000) {
    const stats = (await (await fetch(`${s.url}/lb/stats`)).json()) as {
      backends: { name: string; consistency: string; canary: { correlation: number } | null }[];
    };
    const odd = stats.backends.find((b) => b.name === 'other-model');
    if (odd?.consistency === 'inconsistent') {
      detectedMs = Math.round(performance.now() - started);
      break;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  await s.proc.stop();
  for (const f of fakes) await f.proc.stop();
  return {
    setup:
      '3 fake backends (BM25; one ranks by reversed BM25), canary interval 1 s, action eject; time from starting the sidecar',
    detected_ms: detectedMs ?? null,
    met: detectedMs !== undefined,
  };
}

type FleetResult = Awaited<ReturnType<typeof fleetScenario>> & Record<string, any>;

function markdown(results: {
  at: string;
  split: Awaited<ReturnType<typeof splitScenario>>;
  hedge: Awaited<ReturnType<typeof hedgeScenario>>;
  canary: Awaited<ReturnType<typeof canaryScenario>>;
  fleet?: FleetResult;
}): string {
  const { split, hedge, canary } = results;
  const row = (name: string, r: ReturnType<typeof latency>) =>
    `| ${name} | ${r.p50} | ${r.p90} | ${r.p99} | ${r.max} | ${r.calls} | ${r.failed} |`;
  return [
    `Generated by \`make bench-features\` (bench/features.ts) at ${results.at}, on a shared 2-core machine where other engineers were running tests and builds: absolute numbers are noisy, the ratios are what matter. Loopback only; fakes and the sidecar are separate processes.`,
    '',
    '### Split calls: 600 documents over 3 backends',
    '',
    split.setup + '.',
    '',
    '| arm | p50 ms | p90 ms | p99 ms | max ms | calls | failed |',
    '|---|---|---|---|---|---|---|',
    row('unsplit', split.unsplit),
    row('split (shard_min_documents: 300)', split.split),
    '',
    `Split p50 / unsplit p50 = **${split.p50_ratio}** (p99: ${split.p99_ratio}). Target: ${split.target} — **${split.met ? 'met' : 'missed'}**.`,
    '',
    'Reading: the ideal is 1/3 (each backend takes 200 of the 600 documents); the rest is the sidecar parsing the 600-document call, building three bodies and merging 600 scores, and the slowest of three chunks. The fakes serve calls concurrently (a timer per call); a real GPU backend queues, so splitting shortens a call when backends have spare capacity and adds none when all are saturated: the total work is the same, plus a per-call overhead per chunk.',
    '',
    '### Hedged attempts: one of three backends with a heavy tail',
    '',
    hedge.setup + '.',
    '',
    '| arm | p50 ms | p90 ms | p99 ms | max ms | calls | failed | backend calls | extra calls |',
    '|---|---|---|---|---|---|---|---|---|',
    `${row('unhedged', hedge.unhedged)} ${hedge.unhedged.backend_calls} | ${hedge.unhedged.extra_calls_percent}% |`,
    `${row('hedged', hedge.hedged)} ${hedge.hedged.backend_calls} | ${hedge.hedged.extra_calls_percent}% |`,
    '',
    `Hedged p99 / unhedged p99 = **${hedge.p99_ratio}** at ${hedge.hedged.extra_calls_percent}% extra calls. Target: ${hedge.target} — **${hedge.met ? 'met' : 'missed'}**.`,
    '',
    "Reading: a third of the calls go to the heavy-tailed backend, so the unhedged p99 is that backend's tail. Hedged, a call waits at most about the pool's p95 of first attempts before a steady backend is asked too, so the p99 is roughly that p95 plus one steady answer. Extra calls are the hedges (about the share of first attempts slower than the p95, a lost first attempt counting with its time so far), capped by `hedge_budget_percent`.",
    '',
    '### Model-consistency canary',
    '',
    `${canary.setup}: marked inconsistent (and ejected) after **${canary.detected_ms ?? 'not detected'} ms**.`,
    '',
    ...(results.fleet === undefined ? [] : fleetMarkdown(results.fleet)),
  ].join('\n');
}

function fleetMarkdown(f: FleetResult): string[] {
  const row = (name: string, r: any) =>
    `| ${name} | ${r.p50} | ${r.p90} | ${r.p99} | ${r.max} | ${r.calls} | ${r.failed} | ${
      Object.entries(r.failures)
        .map(([k, v]) => `${k}: ${v}`)
        .join(', ') || '-'
    } |`;
  const backendRows = (rows: any[]) => rows.map((b) => `${b.name} ${b.requests} calls`).join(', ');
  const met = (t: { met: boolean }) => (t.met ? 'met' : 'missed');
  return [
    '### Fleet: backend-reported load, the queue, priorities',
    '',
    f.setup + '.',
    '',
    `At 90% load (${f.steady.rate} calls/s for ${f.steady.seconds} s):`,
    '',
    '| arm | p50 ms | p90 ms | p99 ms | max ms | calls | failed | failures |',
    '|---|---|---|---|---|---|---|---|',
    row('least-busy (local counts)', f.steady.least_busy),
    row('least-queue (backend-reported)', f.steady.least_queue),
    '',
    `least-queue p99 / least-busy p99 = **${f.steady.p99_ratio}**. Calls per backend: least-busy ${backendRows(f.steady.least_busy_backends)}; least-queue ${backendRows(f.steady.least_queue_backends)}. Target: ${f.targets.steady_p99.target} — **${met(f.targets.steady_p99)}**.`,
    '',
    `2x burst (${f.burst.rate} calls/s for ${f.burst.seconds} s), least-queue with the queue on:`,
    '',
    '| calls | p50 ms | p90 ms | p99 ms | max ms | calls | failed | failures |',
    '|---|---|---|---|---|---|---|---|',
    row('priority 10, unloaded (30% load)', f.burst.unloaded_high),
    row('priority 10 in the burst', f.burst.high),
    row('priority 0 in the burst', f.burst.default),
    row('priority -1 (sheddable) in the burst', f.burst.sheddable),
    '',
    `High-priority p99 / unloaded = **${f.burst.high_p99_ratio}**; refused: high ${f.burst.refused_percent.high}%, default ${f.burst.refused_percent.default}%, sheddable ${f.burst.refused_percent.sheddable}%. Targets: ${f.targets.burst_high.target} — **${met(f.targets.burst_high)}**; ${f.targets.burst_shedding.target} — **${met(f.targets.burst_shedding)}**; ${f.targets.info_limits.target} — **${met(f.targets.info_limits)}**.`,
    '',
    'Backends over the whole run (most calls served at once vs slots, most held vs max_concurrent_requests, 429s they answered): ' +
      f.backends_after_all
        .map((b: any) => `${b.name}: ${b.maxRunning}/${b.slots} at once, ${b.maxHeld} held, ${b.overloaded} 429s`)
        .join('; ') +
      '.',
    '',
    "Reading: least-queue learns each backend's capacity from the queues the backends report (every sidecar the same, from the same reports), so each backend gets about its share of the calls; least-busy counts calls, and its lighter sidecars, which see mostly idle backends, send the smallest backend as much as the others: its first-come queue makes the tail. In the burst each sidecar has a window of calls per backend, grown while the backend reports less than saturation_queue waiting and cut when it reports more (AIMD, by 1/sidecar_count so the fleet grows by about one call per report): calls wait in the sidecars, where the high-priority ones go first, rather than in the backends' first-come queues, which know no priority. Sheddable calls are refused first and every refusal is a 429 with Retry-After. The ratios are within one run. The table is from a quiet 2-core machine; in two more runs beside the test suite the steady ratio was 0.43 and 0.42, the burst ratio 1.29 and 1.36.",
    '',
  ];
}

const BEGIN =
  "<!-- bench-features:begin (bench/features.ts writes this section; the rest of the file is bench/run.ts's) -->";
const END = '<!-- bench-features:end -->';

function writeDocs(section: string): void {
  const own = join(root, 'docs/benchmarks-features.md');
  writeFileSync(
    own,
    `# Benchmarks: splitting, hedging, canary, fleet flow control\n\nReproduce: \`make bench-features\` (about 6 minutes; \`node bench/features.ts --quick\` for a short run, \`--only fleet\` for one scenario).\n\n${section}`,
  );
  const shared = join(root, 'docs/benchmarks.md');
  const text = existsSync(shared) ? readFileSync(shared, 'utf8') : '';
  const block = `${BEGIN}\n\n## Splitting, hedging, the canary and fleet flow control\n\nFrom \`make bench-features\`; the same numbers with their setup are in [benchmarks-features.md](benchmarks-features.md).\n\n${section}\n${END}\n`;
  const from = text.indexOf(BEGIN);
  const to = text.indexOf(END);
  const next =
    from >= 0 && to > from
      ? text.slice(0, from) + block + text.slice(to + END.length + 1)
      : `${text.trimEnd()}\n\n${block}`;
  writeFileSync(shared, next);
}

async function main(): Promise<void> {
  if (process.argv.includes('--docs-only')) {
    // Re-renders the docs from the last results (after a wording change), without running anything.
    writeDocs(markdown(JSON.parse(readFileSync(join(root, 'bench/results/features-latest.json'), 'utf8'))));
    return;
  }
  try {
    const last = existsSync(join(root, 'bench/results/features-latest.json'))
      ? JSON.parse(readFileSync(join(root, 'bench/results/features-latest.json'), 'utf8'))
      : {};
    const run = (name: string) => only === undefined || only === name;
    const split = run('split') ? await splitScenario() : last.split;
    const hedge = run('hedge') ? await hedgeScenario() : last.hedge;
    const canary = run('canary') ? await canaryScenario() : last.canary;
    const fleet = run('fleet')
      ? await fleetScenario({ root, work, nodeBin, quick, nextPort: () => nextPort++, log })
      : last.fleet;
    const results = {
      at: new Date().toISOString(),
      quick,
      machine: 'shared 2-core development machine, other work running',
      split,
      hedge,
      canary,
      fleet,
    };
    writeFileSync(join(root, 'bench/results/features-latest.json'), JSON.stringify(results, null, 2) + '\n');
    writeDocs(markdown(results));
    process.stdout.write(
      JSON.stringify(
        {
          split: { p50_ratio: split.p50_ratio, met: split.met },
          hedge: { p99_ratio: hedge.p99_ratio, extra: hedge.hedged.extra_calls_percent, met: hedge.met },
          canary_ms: canary.detected_ms,
          fleet: fleet?.targets,
        },
        null,
        2,
      ) + '\n',
    );
    log(
      'wrote bench/results/features-latest.json, docs/benchmarks-features.md, docs/benchmarks.md (its bench-features section)',
    );
  } finally {
    await stopAll();
  }
}

await main();
