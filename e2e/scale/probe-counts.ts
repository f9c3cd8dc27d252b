/**
 * make scale-fleet (probes): backend probe and canary calls per backend per minute with 1, 10 and
 * 100 sidecars, counted at fake backends on loopback. The sidecars run in this process (the real
 * sidecar: balancer, health checker, canary), each with its own connections.
 *
 * - today: every sidecar actively checks every backend and runs its own canary;
 * - fleet: discovered pods are not actively checked by sidecars (the kubelet's readiness is their
 *   health: `health_check_interval: 0` stands in for the per-pod default of the EndpointSlice
 *   discovery), and the canary runs once per pool: the plan names one runner, the rest follow
 *   (the plan is set here as the operator would write it; e2e/canary.test.ts delivers it through
 *   the API server).
 *
 * Intervals are shortened so a run takes seconds (`--interval 2`: health checks and canary every
 * 2 s); counts are reported per minute at that interval and per interval (x calls per backend per
 * interval is x per minute at 60 s intervals).
 *
 *   node e2e/scale/probe-counts.ts [--sidecars 1,10,100] [--backends 5] [--interval 2] [--seconds 20] [--out FILE]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { ROOT } from '../support/cluster.ts';
import { startFakeReranker, type FakeReranker } from '../../test/fake-reranker/fake-reranker.ts';
import { parseConfigText } from '../../sidecar/config/load.ts';
import { createSidecar, type Sidecar } from '../../sidecar/server/sidecar.ts';
import { roleFor } from '../../sidecar/canary/canary-role.ts';
import { createLogger } from '../../common/logger.ts';

const { values: args } = parseArgs({
  options: {
    sidecars: { type: 'string', default: '1,10,100' },
    backends: { type: 'string', default: '5' },
    interval: { type: 'string', default: '2' },
    seconds: { type: 'string', default: '20' },
    out: { type: 'string', default: join(ROOT, 'docs/results/scale-fleet-probes.json') },
  },
});
const INTERVAL = Number(args.interval);
const SECONDS = Number(args.seconds);

type Design = 'today' | 'fleet';

function configText(fakes: readonly FakeReranker[], design: Design): string {
  const models = fakes
    .map((f, i) => `  - { model_name: b${i + 1}, litellm_params: { api_base: "${f.url}" } }`)
    .join('\n');
  const health = design === 'today' ? INTERVAL : 0;
  return `model_list:\n${models}\nrouter_settings:\n  health_check_interval: ${health}\n  canary: { interval: ${INTERVAL} }\n  enable_request_logging: false\n`;
}

async function run(
  design: Design,
  sidecarCount: number,
  fakes: readonly FakeReranker[],
): Promise<Record<string, unknown>> {
  const config = parseConfigText(configText(fakes, design), 'probe-counts', {});
  const logger = createLogger('silent');
  const sidecars: Sidecar[] = [];
  for (let i = 0; i < sidecarCount; i++) {
    const s = createSidecar({ config, enabled: true, logger });
    // The pool's plan as the operator writes it: the first pod runs the canary, the rest follow.
    if (design === 'fleet')
      s.canary.setRole(roleFor({ runner: 'app-0', inconsistent: [], judgedAt: undefined }, `app-${i}`));
    sidecars.push(s);
  }
  // Skip the first round after start (each sidecar's first checks come early), then count.
  await new Promise((r) => setTimeout(r, 1500));
  const before = fakes.map((f) => ({ health: f.stats.healthChecks, calls: f.stats.requests }));
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  const after = fakes.map((f) => ({ health: f.stats.healthChecks, calls: f.stats.requests }));
  await Promise.all(sidecars.map((s) => s.close()));
  const perBackend = (pick: (x: { health: number; calls: number }) => number) =>
    after.reduce((n, a, i) => n + pick(a) - pick(before[i]!), 0) / fakes.length;
  const intervals = SECONDS / INTERVAL;
  const health = perBackend((x) => x.health);
  const canary = perBackend((x) => x.calls);
  const result = {
    design,
    sidecars: sidecarCount,
    healthChecksPerBackendPerMinute: Math.round((health / SECONDS) * 60 * 10) / 10,
    canaryCallsPerBackendPerMinute: Math.round((canary / SECONDS) * 60 * 10) / 10,
    healthChecksPerBackendPerInterval: Math.round((health / intervals) * 100) / 100,
    canaryCallsPerBackendPerInterval: Math.round((canary / intervals) * 100) / 100,
  };
  console.error(JSON.stringify(result));
  return result;
}

async function main(): Promise<void> {
  const fakes: FakeReranker[] = [];
  for (let i = 0; i < Number(args.backends); i++)
    fakes.push(
      await startFakeReranker({ host: '127.0.0.1', port: 0, name: `b${i + 1}`, behaviour: { scoring: 'cheap' } }),
    );
  const results: Record<string, unknown>[] = [];
  try {
    for (const design of ['today', 'fleet'] as const)
      for (const n of args.sidecars!.split(',').map(Number)) results.push(await run(design, n, fakes));
  } finally {
    await Promise.all(fakes.map((f) => f.close()));
  }
  const out = {
    kind: 'backend probe and canary calls',
    intervalSeconds: INTERVAL,
    seconds: SECONDS,
    backends: fakes.length,
    results,
  };
  mkdirSync(dirname(args.out!), { recursive: true });
  writeFileSync(args.out!, JSON.stringify(out, null, 2) + '\n');
  console.log(JSON.stringify(out, null, 2));
}

await main();
