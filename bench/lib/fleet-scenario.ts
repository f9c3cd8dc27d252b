/**
 * The fleet scenario of `make bench-features`: 4 sidecar processes with skewed traffic (50%, 25%,
 * 15%, 10%) over 3 TEI-like backends of unequal capacity (12, 8 and 4 calls at once, 300 ms each,
 * first-come queue behind), so each sidecar sees only a sliver of each backend's load.
 *
 * 1. Offered load at 90% of total capacity, least-busy (local counts) against least-queue (the
 *    backends' own x-queue-time/x-inference-time), same fakes, same run. Target: least-queue p99
 *    <= 0.5x least-busy's; no backend over its limits (its 429s, calls held vs
 *    max_concurrent_requests).
 * 2. least-queue with the queue on, the backends' te_queue_size scraped every 250 ms and
 *    saturation_queue: the unloaded p99 of high-priority calls (30% load), then a 2x
 *    burst for 10 s with 20% of calls at priority 10 and 20% sheddable (-1). Targets: high p99
 *    <= 1.5x unloaded and none fails; sheddable refused first; every refusal a 429 with
 *    Retry-After; nothing else fails.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runStreams, type StreamResult } from './fleet-load.ts';
import { start, waitForHttp, type Managed } from './processes.ts';

export interface FleetOptions {
  readonly root: string;
  readonly work: string;
  readonly nodeBin: string;
  readonly quick: boolean;
  readonly nextPort: () => number;
  readonly log: (message: string) => void;
}

const SERVICE_MS = 300;
const SLOTS = [12, 8, 4];
const SHARES = [0.5, 0.25, 0.15, 0.1];
/** TEI's --max-concurrent-requests of each fake: calls held (served + queued) past which it answers 429. */
const MAX_HELD = 64;
/** Calls waiting at a backend (its te_queue_size) at which the sidecars' windows there shrink in the burst. */
const SATURATION_QUEUE = 1;
const CAPACITY = SLOTS.reduce((a, b) => a + b, 0) * (1000 / SERVICE_MS);

interface Fake {
  readonly name: string;
  readonly url: string;
  readonly proc: Managed;
}

const BODY = JSON.stringify({
  query: 'topic 3 passage',
  documents: Array.from({ length: 10 }, (_d, i) => `document ${i} about topic ${i % 5}`),
});
const round = (v: number) => Math.round(v * 10) / 10;
const ratio = (a: number, b: number) => Math.round((a / b) * 1000) / 1000;

function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

interface Summary {
  calls: number;
  failed: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  failures: Record<string, number>;
}

function summarize(r: StreamResult): Summary {
  const samples = r.samples;
  return {
    calls: r.sent,
    failed: r.failed,
    p50: round(percentile(samples, 0.5)),
    p90: round(percentile(samples, 0.9)),
    p99: round(percentile(samples, 0.99)),
    max: round(samples[samples.length - 1] ?? Number.NaN),
    failures: r.failures,
  };
}

async function startFakes(o: FleetOptions): Promise<Fake[]> {
  const fakes: Fake[] = [];
  for (const [i, slots] of SLOTS.entries()) {
    const name = `tei-${slots}x`;
    const port = o.nextPort();
    const args = [
      '--port',
      String(port),
      '--name',
      name,
      '--format',
      'tei',
      '--scoring',
      'cheap',
      '--latency-ms',
      String(SERVICE_MS),
      '--latency-sigma',
      '0.1',
    ];
    const proc = start(name, o.nodeBin, [
      join(o.root, 'test/fake-reranker/fake-reranker-cli.ts'),
      ...args,
      '--concurrency',
      String(slots),
      '--max-concurrent-requests',
      String(MAX_HELD),
    ]);
    const url = `http://127.0.0.1:${port}`;
    await waitForHttp(`${url}/health`);
    fakes.push({ name: `${name}-${i}`, url, proc });
  }
  return fakes;
}

async function fakeStats(
  fakes: readonly Fake[],
): Promise<
  { name: string; slots: number; requests: number; maxRunning: number; maxHeld: number; overloaded: number }[]
> {
  return Promise.all(
    fakes.map(async (f, i) => {
      const s = (await (await fetch(`${f.url}/__stats`)).json()) as {
        requests: number;
        maxRunning: number;
        maxHeld: number;
        overloaded: number;
      };
      return {
        name: f.name,
        slots: SLOTS[i]!,
        requests: s.requests,
        maxRunning: s.maxRunning,
        maxHeld: s.maxHeld,
        overloaded: s.overloaded,
      };
    }),
  );
}

async function startSidecars(
  o: FleetOptions,
  arm: string,
  fakes: readonly Fake[],
  router: Record<string, unknown>,
): Promise<{ urls: string[]; procs: Managed[] }> {
  const urls: string[] = [];
  const procs: Managed[] = [];
  for (let i = 0; i < SHARES.length; i++) {
    const port = o.nextPort();
    const config = join(o.work, `fleet-${arm}-${i}.yaml`);
    writeFileSync(
      config,
      JSON.stringify({
        model_list: fakes.map((f) => ({ model_name: f.name, litellm_params: { api_base: f.url, api_format: 'tei' } })),
        router_settings: {
          enable_request_logging: false,
          health_check_interval: 0,
          fallback_to_local: false,
          retry_delay: 0.05,
          sidecar_count: SHARES.length,
          ...router,
        },
      }),
    );
    procs.push(
      start(`sidecar ${arm} ${i}`, o.nodeBin, [join(o.root, 'sidecar/main.ts')], {
        RERANKER_LOAD_BALANCER_ENABLED: 'true',
        RERANKER_CONFIG_PATH: config,
        RERANKER_LB_PORT: String(port),
        RERANKER_LB_HOST: '127.0.0.1',
        LOG_LEVEL: 'warn',
        RERANKER_SHUTDOWN_DELAY_SECONDS: '0',
      }),
    );
    urls.push(`http://127.0.0.1:${port}`);
  }
  for (const url of urls) await waitForHttp(`${url}/health`);
  return { urls, procs };
}

/** Offered load `rate` split over the sidecars by SHARES; `classes`: share of calls per priority header (undefined: none). */
function offer(
  urls: readonly string[],
  rate: number,
  seconds: number,
  classes: readonly (readonly [string | undefined, number])[],
): Promise<Map<string, StreamResult>> {
  const streams = urls.flatMap((url, i) =>
    classes.map(([priority, share]) => ({
      key: priority ?? 'none',
      url: `${url}/rerank`,
      rate: rate * SHARES[i]! * share,
      headers: (priority === undefined ? {} : { 'x-reranker-priority': priority }) as Record<string, string>,
    })),
  );
  return runStreams(streams, seconds, BODY, 15_000);
}

export async function fleetScenario(o: FleetOptions) {
  const steadySeconds = o.quick ? 12 : 30;
  const unloadedSeconds = o.quick ? 6 : 15;
  const burstSeconds = 10;
  const fakes = await startFakes(o);
  const steadyRate = 0.9 * CAPACITY;
  const plain = [[undefined, 1]] as const;
  const shared = { queue_timeout: 2, queue_max_length: 200 };
  const out: Record<string, unknown> = {};

  o.log(`fleet: least-busy, ${round(steadyRate)} calls/s (90% of ${CAPACITY}) for ${steadySeconds} s`);
  let sidecars = await startSidecars(o, 'least-busy', fakes, { routing_strategy: 'least-busy', ...shared });
  await offer(sidecars.urls, steadyRate, 3, plain);
  let before = await fakeStats(fakes);
  const leastBusy = summarize((await offer(sidecars.urls, steadyRate, steadySeconds, plain)).get('none')!);
  const leastBusyBackends = diff(before, await fakeStats(fakes));
  for (const p of sidecars.procs) await p.stop();

  o.log(`fleet: least-queue, ${round(steadyRate)} calls/s for ${steadySeconds} s`);
  sidecars = await startSidecars(o, 'least-queue', fakes, { routing_strategy: 'least-queue', ...shared });
  await offer(sidecars.urls, steadyRate, 3, plain);
  before = await fakeStats(fakes);
  const leastQueue = summarize((await offer(sidecars.urls, steadyRate, steadySeconds, plain)).get('none')!);
  const leastQueueBackends = diff(before, await fakeStats(fakes));
  for (const p of sidecars.procs) await p.stop();

  // The burst: least-queue with the queue on, each backend's te_queue_size scraped every 250 ms,
  // and saturation_queue SATURATION_QUEUE: each sidecar's window of calls per backend shrinks when
  // the backend reports that many waiting, so calls wait in the sidecars by priority instead of in
  // the backends' first-come queues.
  const burstRouter = {
    routing_strategy: 'least-queue',
    ...shared,
    scrape_backend_metrics: true,
    load_signal_interval: 0.25,
    saturation_queue: SATURATION_QUEUE,
  };
  o.log(
    `fleet: least-queue, scrape 250 ms, saturation_queue ${SATURATION_QUEUE}: unloaded high priority (30%) for ${unloadedSeconds} s`,
  );
  sidecars = await startSidecars(o, 'burst', fakes, burstRouter);
  await offer(sidecars.urls, 0.3 * CAPACITY, 3, plain);
  const unloaded = summarize((await offer(sidecars.urls, 0.3 * CAPACITY, unloadedSeconds, [['10', 1]])).get('10')!);
  o.log(
    `fleet: least-queue, 2x burst (${round(2 * CAPACITY)} calls/s) for ${burstSeconds} s: 20% priority 10, 60% default, 20% sheddable`,
  );
  const burst = await offer(sidecars.urls, 2 * CAPACITY, burstSeconds, [
    ['10', 0.2],
    ['0', 0.6],
    ['-1', 0.2],
  ]);
  const lbStats = (await (await fetch(`${sidecars.urls[0]}/lb/stats`)).json()) as {
    backends: { name: string; reported_limits: unknown; max_parallel_requests: number | null; load_signal: unknown }[];
    flow_control: unknown;
  };
  for (const p of sidecars.procs) await p.stop();
  const finalBackends = await fakeStats(fakes);
  for (const f of fakes) await f.proc.stop();

  const high = summarize(burst.get('10')!);
  const normal = summarize(burst.get('0')!);
  const sheddable = summarize(burst.get('-1')!);
  const refusals = [high, normal, sheddable].flatMap((s) => Object.entries(s.failures));
  const everyRefusal429 = refusals.every(([k]) => k === '429+retry-after');
  const p99Ratio = ratio(leastQueue.p99, leastBusy.p99);
  const highRatio = ratio(high.p99, unloaded.p99);
  const refusedShare = (s: Summary) => round((100 * s.failed) / s.calls);
  const withinLimits = (rows: ReturnType<typeof diff>) =>
    rows.every((b) => b.overloaded === 0 && b.maxHeld <= MAX_HELD && b.maxRunning <= b.slots);
  Object.assign(out, {
    setup: `3 TEI-like fakes (${SLOTS.join(', ')} calls at once, ${SERVICE_MS} ms each, log-normal sigma 0.1, first-come queue behind, max_concurrent_requests ${MAX_HELD}): capacity ${CAPACITY} calls/s; 4 sidecar processes (sidecar_count 4) take ${SHARES.map((s) => `${s * 100}%`).join(', ')} of the traffic; 10-document calls, open loop; queue_timeout 2 s, queue_max_length 200 in both arms; burst phase: least-queue, scrape_backend_metrics with load_signal_interval 0.25 s, saturation_queue ${SATURATION_QUEUE}`,
    steady: {
      rate: round(steadyRate),
      seconds: steadySeconds,
      least_busy: leastBusy,
      least_queue: leastQueue,
      least_busy_backends: leastBusyBackends,
      least_queue_backends: leastQueueBackends,
      p99_ratio: p99Ratio,
    },
    burst: {
      rate: round(2 * CAPACITY),
      seconds: burstSeconds,
      unloaded_high: unloaded,
      high,
      default: normal,
      sheddable,
      refused_percent: { high: refusedShare(high), default: refusedShare(normal), sheddable: refusedShare(sheddable) },
      high_p99_ratio: highRatio,
    },
    backends_after_all: finalBackends,
    lb_stats_sample: {
      backends: lbStats.backends.map((b) => ({
        name: b.name,
        reported_limits: b.reported_limits,
        max_parallel_requests: b.max_parallel_requests,
        load_signal: b.load_signal,
      })),
      flow_control: lbStats.flow_control,
    },
    targets: {
      steady_p99: {
        target: 'least-queue p99 <= 0.5x least-busy p99, no backend over its limits',
        met: p99Ratio <= 0.5 && withinLimits(leastBusyBackends) && withinLimits(leastQueueBackends),
      },
      burst_high: {
        target: 'high-priority p99 <= 1.5x unloaded, none fails',
        met: highRatio <= 1.5 && high.failed === 0,
      },
      burst_shedding: {
        target: 'sheddable refused first; every refusal a 429 with Retry-After; nothing else fails',
        met:
          refusedShare(sheddable) >= refusedShare(normal) &&
          everyRefusal429 &&
          sheddable.failed >= normal.failed * (0.2 / 0.6),
      },
      info_limits: {
        target: 'TEI /info limits in /lb/stats unconfigured',
        met: lbStats.backends.every((b) => b.reported_limits !== null),
      },
    },
  });
  return out;
}

function diff(before: Awaited<ReturnType<typeof fakeStats>>, after: Awaited<ReturnType<typeof fakeStats>>) {
  return after.map((a, i) => ({ ...a, requests: a.requests - before[i]!.requests }));
}
