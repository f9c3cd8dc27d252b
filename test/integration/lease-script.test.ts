/**
 * The rate ledgers of four sidecars against the real lease script in a real redis-server, on a
 * manual local clock (Redis keeps its own): what Redis grants when, renewal by renewal, without
 * the timing of four processes in the way.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Redis } from 'ioredis';
import { limitKey, RATE_SCRIPT } from '../../sidecar/limits/lease-script.ts';
import { leaseTiming } from '../../sidecar/limits/lease-timing.ts';
import { RateLedger } from '../../sidecar/limits/rate-ledger.ts';
import { parseRate, rateArgs } from '../../sidecar/limits/shared-limits.ts';
import { startRedis, type RedisServer } from '../support/redis-server.ts';

let redis: RedisServer;
let client: Redis;
before(async () => {
  redis = await startRedis();
  client = new Redis(redis.port, '127.0.0.1');
});
after(async () => {
  client.disconnect();
  await redis.close();
});

const timing = leaseTiming(60_000);

/** One sidecar: its ledger and its renewals through the script; returns what was asked and granted. */
function sidecar(id: string, limit: number, sidecars: number, now: number) {
  const ledger = new RateLedger(limit, sidecars, timing, now);
  const keys = (['rpm', 'rpm-promised', 'rpm-seen'] as const).map((k) => limitKey('script-test', 'b', k));
  return {
    ledger,
    async renew(at: number): Promise<{ want: number; grant: number }> {
      const r = ledger.renewRequest(at);
      const reply = parseRate(
        (await client.eval(RATE_SCRIPT, 3, ...keys, ...rateArgs(ledger, r, id))) as (number | string)[],
      );
      ledger.onReply(at, at + 1, reply);
      return { want: r.want, grant: reply.grant };
    },
  };
}

test("while one sidecar settles after a Redis failure, the idle sidecars' burst leases are granted whole: none is left without one", async () => {
  const limit = 1_000_000;
  let now = 1_000_000;
  const fleet = ['a', 'b', 'c', 'd'].map((id) => sidecar(id, limit, 4, now));
  for (const s of fleet) await s.renew(now);
  assert.deepEqual(
    fleet.map((s) => s.ledger.mode),
    ['shared', 'shared', 'shared', 'shared'],
  );
  // d stops hearing from Redis for a second, falls back, then answers again: it settles for 1.5 s,
  // asking Redis for its promise floor only (the others' grants wait for its next renewal beyond it).
  const d = fleet[3]!;
  d.ledger.onFailure(now + 500);
  assert.equal(d.ledger.tick(now + 1_100), 'static');
  now += 1_100;
  await d.renew(now);
  now += timing.idleRenewMs;
  await d.renew(now);
  assert.equal(d.ledger.mode, 'static', 'settling');
  // Two idle renewals of each of the others (750 ms apart) before d renews again (a timer a little late).
  now -= timing.idleRenewMs - 5;
  for (let round = 0; round < 2; round++) {
    now += timing.idleRenewMs;
    for (const s of fleet.slice(0, 3)) {
      assert.equal(s.ledger.renewDue(now), true);
      const { want, grant } = await s.renew(now);
      assert.ok(want > 0, 'an idle sidecar far from the limit asks for a burst lease');
      assert.ok(grant > 0, `round ${round + 1}: a burst lease was refused whole`);
      assert.equal(s.ledger.hasRoom(now + 2, 1), true);
      assert.equal(grant, want, `round ${round + 1}: granted ${grant} of ${want}`);
    }
  }
});
