/**
 * What pool-wide limits cost Redis: many sidecars' lease renewals (the real Lua script, real
 * redis-server) against one backend's rpm key whose window is full of slices, as in the steady
 * state. Reports Redis CPU per renewal (INFO cpu, before and after) and renewals per second, and
 * what 1,000 sidecars would cost. Usage: node bench/redis-leases.ts [renewals] [sidecars]
 */
import { Redis } from 'ioredis';
import { HIST_GROUPS, limitKey, RATE_SCRIPT, SLOT_SCRIPT } from '../sidecar/limits/lease-script.ts';
import { leaseTiming } from '../sidecar/limits/lease-timing.ts';
import { startRedis } from '../test/support/redis-server.ts';

const renewals = Number(process.argv[2] ?? 40_000);
const sidecars = Number(process.argv[3] ?? 50);
const timing = leaseTiming();

async function cpuSeconds(client: Redis): Promise<number> {
  const info = await client.info('cpu');
  const read = (name: string) => Number(new RegExp(`^${name}:([0-9.]+)`, 'm').exec(info)?.[1] ?? 0);
  return read('used_cpu_sys') + read('used_cpu_user');
}

const redis = await startRedis();
const client = new Redis({ port: redis.port, host: '127.0.0.1', enableAutoPipelining: true });
client.defineCommand('rrlbRate', { numberOfKeys: 3, lua: RATE_SCRIPT });
client.defineCommand('rrlbSlots', { numberOfKeys: 2, lua: SLOT_SCRIPT });
const rate = (
  client as unknown as { rrlbRate(key: string, ...args: (string | number)[]): Promise<unknown> }
).rrlbRate.bind(client);
const slots = (
  client as unknown as { rrlbSlots(key: string, ...args: (string | number)[]): Promise<unknown> }
).rrlbSlots.bind(client);
const key = limitKey('bench/pool', 'http://tei:8080|tei', 'rpm');
const promised = limitKey('bench/pool', 'http://tei:8080|tei', 'rpm-promised');
const seen = limitKey('bench/pool', 'http://tei:8080|tei', 'rpm-seen');
const parKey = limitKey('bench/pool', 'http://tei:8080|tei', 'par');
const parExpiry = limitKey('bench/pool', 'http://tei:8080|tei', 'par-expiry');
// A full window, as a steady state leaves it: 10 units in every 0.5 s slice still counted.
const now = Date.now();
const counted = timing.windowMs + timing.leaseMs + timing.dispatchMarginMs;
const groupSlices = Math.ceil(counted / timing.sliceMs / HIST_GROUPS);
const oldest = Math.floor((now - counted) / timing.sliceMs);
const fields: Record<string, number> = { born: oldest, low: oldest, sum: 0 };
for (let s = oldest; s <= Math.floor(now / timing.sliceMs); s++) {
  fields[`s${s}`] = 10;
  fields[`g${Math.floor(s / groupSlices)}`] = (fields[`g${Math.floor(s / groupSlices)}`] ?? 0) + 10;
  fields.sum! += 10;
}
await client.hset(key, fields);
const args = (want: number, id: number) => [
  1_000_000_000,
  timing.windowMs,
  timing.leaseMs + timing.dispatchMarginMs,
  timing.sliceMs,
  want,
  0,
  0,
  `sidecar-${id}`,
  1000,
  timing.horizonMs,
  0.5,
  want,
  1,
  Math.floor(now / timing.sliceMs),
  1,
  0,
];

async function run(kind: 'rpm' | 'par'): Promise<{ perRenewalUs: number; perSecond: number }> {
  const before = await cpuSeconds(client);
  const started = performance.now();
  let next = 0;
  async function lane(): Promise<void> {
    while (next < renewals) {
      // 1,000 sidecar ids take turns in the concurrency hash, as 1,000 sidecars would.
      const id = next++ % 1000;
      if (kind === 'rpm') await rate(key, promised, seen, ...args(5, id));
      else await slots(parKey, parExpiry, 100_000, `sidecar-${id}`, 3, 1, timing.slotExpiryMs);
    }
  }
  await Promise.all(Array.from({ length: sidecars }, lane));
  const seconds = (performance.now() - started) / 1000;
  const cpu = (await cpuSeconds(client)) - before;
  return { perRenewalUs: (cpu / renewals) * 1e6, perSecond: renewals / seconds };
}

const rpm = await run('rpm');
const par = await run('par');
// 1,000 sidecars, one backend with rpm and tpm (and max_parallel_requests), all busy: 4 renewals a second per limit.
const perSecond = 1000 * 4;
console.log(
  JSON.stringify({
    renewals,
    concurrent_sidecars: sidecars,
    rate_script_us_redis_cpu: Math.round(rpm.perRenewalUs * 10) / 10,
    rate_renewals_per_second_one_client: Math.round(rpm.perSecond),
    slot_script_us_redis_cpu: Math.round(par.perRenewalUs * 10) / 10,
    at_1000_busy_sidecars: {
      renewals_per_second_per_limit: perSecond,
      redis_cpu_share_rpm_and_tpm: Math.round(((2 * perSecond * rpm.perRenewalUs) / 1e6) * 1000) / 1000,
      redis_cpu_share_max_parallel: Math.round(((perSecond * par.perRenewalUs) / 1e6) * 1000) / 1000,
    },
  }),
);
client.disconnect();
await redis.close();
