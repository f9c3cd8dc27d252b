/**
 * Leader election on a scripted Lease store and manual time: expiry is judged on the candidate's
 * own clock, a 409 is a lost race (not an error), a leader that cannot renew steps down — its term
 * signal aborted on a timer at renewDeadline even while its requests hang, before a standby leads —
 * and a stopping leader hands the lease over at once.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Writable } from 'node:stream';
import { createLogger } from '../common/logger.ts';
import { ManualTime } from '../common/manual-time.ts';
import { KubeApiError, type KubeApi } from './api.ts';
import { LeaderElector, LeadershipLostError } from './leader-election.ts';

const silent = createLogger('silent', new Writable({ write: (_c, _e, done) => done() }));

interface StoredLease {
  metadata: { name: string; namespace: string; resourceVersion?: string };
  spec: { holderIdentity?: string; renewTime?: string; leaseDurationSeconds?: number; leaseTransitions?: number };
}

/** One Lease with optimistic concurrency, as the API server keeps it; `down` fails every call. */
class LeaseStore {
  lease: StoredLease | undefined;
  version = 0;
  down = false;
  /** Writes that lost on resourceVersion. */
  conflicts = 0;
  /** Requests that hung. */
  hung = 0;

  /** Requests of the clients for which `hang()` is true never answer; they end only when their signal aborts. */
  api(hang: () => boolean = () => false): KubeApi {
    const hung = async (signal: AbortSignal | undefined): Promise<never> => {
      this.hung++;
      return new Promise((_resolve, reject) =>
        signal?.addEventListener('abort', () => reject(signal.reason), { once: true }),
      );
    };
    return {
      get: async (_path: string, options: { signal?: AbortSignal } = {}) => {
        if (hang()) return hung(options.signal);
        if (this.down) throw new KubeApiError(503, 'unavailable', undefined);
        return this.lease === undefined ? undefined : structuredClone(this.lease);
      },
      request: async (method: string, _path: string, options: { body?: StoredLease; signal?: AbortSignal }) => {
        if (hang()) return hung(options.signal);
        if (this.down) throw new KubeApiError(503, 'unavailable', undefined);
        const body = structuredClone(options.body!);
        if (method === 'POST' && this.lease !== undefined) throw new KubeApiError(409, 'exists', 'AlreadyExists');
        if (method === 'PUT' && body.metadata.resourceVersion !== this.lease?.metadata.resourceVersion) {
          this.conflicts++;
          throw new KubeApiError(409, 'conflict', 'Conflict');
        }
        body.metadata.resourceVersion = String(++this.version);
        this.lease = body;
        return structuredClone(body);
      },
    } as unknown as KubeApi;
  }
}

function candidate(store: LeaseStore, time: ManualTime, identity: string, hang: () => boolean = () => false) {
  const events: string[] = [];
  const terms: AbortSignal[] = [];
  const elector = new LeaderElector(store.api(hang), {
    namespace: 'ops',
    name: 'reranker-lb-operator',
    identity,
    onStartedLeading: (term) => {
      events.push('started');
      terms.push(term);
    },
    onStoppedLeading: () => events.push('stopped'),
    logger: silent,
    timers: time,
    clock: time,
  });
  return { elector, events, terms };
}

/** Lets the elector's awaited API calls finish. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
}

async function advance(time: ManualTime, ms: number, step = 500): Promise<void> {
  for (let t = 0; t < ms; t += step) {
    time.advance(step);
    await settle();
  }
}

describe('leader election', () => {
  test('the first candidate creates the lease and leads; a second waits', async () => {
    const store = new LeaseStore();
    const time = new ManualTime();
    const a = candidate(store, time, 'a');
    const b = candidate(store, time, 'b');
    a.elector.start();
    await settle();
    b.elector.start();
    await settle();
    await advance(time, 10_000);
    assert.deepEqual([a.elector.isLeader, b.elector.isLeader], [true, false]);
    assert.equal(store.lease?.spec.holderIdentity, 'a');
    assert.deepEqual(a.events, ['started']);
    assert.deepEqual(b.events, []);
  });

  test("a holder that stops renewing is replaced only after leaseDuration on the standby's own clock", async () => {
    const store = new LeaseStore();
    const time = new ManualTime();
    const a = candidate(store, time, 'a');
    a.elector.start();
    await settle();
    // The holder's renewTime is far in the future: a standby must not trust the holder's clock.
    store.lease!.spec.renewTime = '2099-01-01T00:00:00.000000Z';
    await a.elector.stop(); // gone without handing over: simulate a crash by restoring the record
    store.lease!.spec.holderIdentity = 'a';
    store.lease!.spec.leaseDurationSeconds = 15;
    const b = candidate(store, time, 'b');
    b.elector.start();
    await advance(time, 14_000);
    assert.equal(b.elector.isLeader, false, 'not before 15 s of silence on its own clock');
    await advance(time, 4_000);
    assert.equal(b.elector.isLeader, true);
    assert.equal(store.lease?.spec.leaseTransitions, 1);
  });

  test('a 409 is a lost race, not an error: exactly one of two simultaneous candidates leads', async () => {
    const store = new LeaseStore();
    const time = new ManualTime();
    const a = candidate(store, time, 'a');
    const b = candidate(store, time, 'b');
    a.elector.start();
    b.elector.start();
    await settle();
    await advance(time, 6_000);
    assert.equal([a.elector.isLeader, b.elector.isLeader].filter(Boolean).length, 1);
  });

  test('a leader that cannot renew within renewDeadline steps down', async () => {
    const store = new LeaseStore();
    const time = new ManualTime();
    const a = candidate(store, time, 'a');
    a.elector.start();
    await settle();
    assert.equal(a.elector.isLeader, true);
    store.down = true;
    await advance(time, 9_000);
    assert.equal(a.elector.isLeader, true, 'still within the 10 s renew deadline');
    await advance(time, 3_000);
    assert.deepEqual([a.elector.isLeader, a.events], [false, ['started', 'stopped']]);
  });

  test('a stopping leader releases the lease so a standby takes over at once', async () => {
    const store = new LeaseStore();
    const time = new ManualTime();
    const a = candidate(store, time, 'a');
    const b = candidate(store, time, 'b');
    a.elector.start();
    await settle();
    b.elector.start();
    await settle();
    await a.elector.stop();
    assert.equal(store.lease?.spec.holderIdentity, '');
    await advance(time, 2_500);
    assert.equal(b.elector.isLeader, true, 'within one retry period, not a whole lease duration');
  });

  test('a leader whose requests hang: its term ends on a timer at renewDeadline after its last renew, before the standby leads', async () => {
    const store = new LeaseStore();
    const time = new ManualTime();
    let partitioned = false;
    const a = candidate(store, time, 'a', () => partitioned);
    const b = candidate(store, time, 'b');
    a.elector.start();
    await settle();
    b.elector.start();
    await advance(time, 4_000, 100); // a renews at 2 s and 4 s
    partitioned = true;
    const lastRenewAt = 4_000;
    let termEndedAt: number | undefined;
    let bLedAt: number | undefined;
    for (let t = 0; t < 30_000; t += 100) {
      time.advance(100);
      await settle();
      const now = 4_000 + t + 100;
      if (termEndedAt === undefined && a.terms[0]!.aborted) termEndedAt = now;
      if (bLedAt === undefined && b.elector.isLeader) bLedAt = now;
      assert.ok(!(a.elector.isLeader && b.elector.isLeader), `two leaders at ${now} ms`);
    }
    assert.ok(store.hung > 0, "the leader's lease requests hung");
    assert.equal(
      termEndedAt,
      lastRenewAt + 10_000,
      'the term ends at renewDeadline after the last renew, while the GET still hangs',
    );
    assert.ok(a.terms[0]!.reason instanceof LeadershipLostError, 'the term says why it ended');
    assert.deepEqual(a.events, ['started', 'stopped']);
    assert.ok(
      bLedAt !== undefined && bLedAt >= lastRenewAt + 15_000,
      `the standby leads only after the lease expired on its clock (at ${bLedAt} ms)`,
    );
  });

  test('renewals keep one term alive: its signal stays unaborted for as long as the leader renews', async () => {
    const store = new LeaseStore();
    const time = new ManualTime();
    const a = candidate(store, time, 'a');
    a.elector.start();
    await settle();
    await advance(time, 120_000);
    assert.deepEqual([a.events, a.terms.length, a.terms[0]!.aborted], [['started'], 1, false]);
    await a.elector.stop();
    assert.equal(a.terms[0]!.aborted, true, 'stop() ends the term too');
    assert.equal(time.pending, 0, 'no timer left behind');
  });
});
