/** A sidecar follows the pool's canary plan from the API, and runs its own when it cannot read it. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { KubeObject, ObjectList, WatchEvent } from '../../kube/api.ts';
import type { ListWatchApi } from '../../kube/informer.ts';
import { KubeApiError } from '../../kube/api.ts';
import { ManualTime } from '../../common/manual-time.ts';
import { createLogger } from '../../common/logger.ts';
import type { CanaryRole } from './canary-role.ts';
import { watchCanaryPlan } from './plan-watch.ts';

const flush = async () => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
};
const planCm = (runner: string, inconsistent: string[] = [], rv = '1') => ({
  metadata: { name: 'search-reranker-config-canary', namespace: 'app', resourceVersion: rv },
  data: { 'canary.json': JSON.stringify({ runner, inconsistent, judgedAt: null }) },
});

/** list answers `listed` (or throws it); the watch plays `events` then hangs. */
function api(listed: KubeObject[] | Error, events: WatchEvent[] = []): ListWatchApi {
  return {
    async list<T extends KubeObject>(): Promise<ObjectList<T>> {
      if (listed instanceof Error) throw listed;
      return { items: listed as T[], resourceVersion: '1' };
    },
    async *watch(_path, _query, signal) {
      yield* events;
      await new Promise((_r, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true }));
    },
  };
}

function follow(listApi: ListWatchApi) {
  const time = new ManualTime();
  const roles: CanaryRole[] = [];
  const canary = {
    get role() {
      return roles.at(-1) ?? { kind: 'own' as const };
    },
    setRole: (r: CanaryRole) => void roles.push(r),
  };
  const watch = watchCanaryPlan({
    api: listApi,
    namespace: 'app',
    name: 'search-reranker-config-canary',
    podName: 'app-1',
    canary,
    logger: createLogger('silent'),
    timers: time,
    clock: time,
    random: () => 0.5,
  });
  return { time, roles, watch, kinds: () => roles.map((r) => r.kind) };
}

test('another pod named runner: this sidecar waits, then follows with the verdicts; a later change names it runner', async () => {
  const f = follow(api([planCm('app-0', ['tei/b'])], [{ type: 'MODIFIED', object: planCm('app-1', [], '2') }]));
  await flush();
  assert.deepEqual(f.kinds(), ['waiting', 'follower', 'runner']);
  assert.deepEqual(f.roles[1], { kind: 'follower', runner: 'app-0', inconsistent: ['tei/b'], judgedAt: undefined });
  f.time.advance(60_000);
  assert.equal(f.kinds().at(-1), 'runner', 'no fallback once the plan was read');
  f.watch.stop();
});

test('no plan object: its own canary at once', async () => {
  const f = follow(api([]));
  await flush();
  assert.deepEqual(f.kinds(), ['waiting', 'own']);
  f.watch.stop();
});

test('the plan cannot be read (403): no canary calls for 10 s, then its own', async () => {
  const f = follow(api(new KubeApiError(403, 'forbidden', 'Forbidden')));
  await flush();
  f.time.advance(9_000);
  await flush();
  assert.deepEqual(f.kinds(), ['waiting']);
  f.time.advance(1_000);
  await flush();
  assert.deepEqual(f.kinds(), ['waiting', 'own']);
  f.watch.stop();
});

test('the plan deleted: back to its own canary', async () => {
  const f = follow(api([planCm('app-0')], [{ type: 'DELETED', object: planCm('app-0', [], '3') }]));
  await flush();
  assert.deepEqual(f.kinds(), ['waiting', 'follower', 'own']);
  f.watch.stop();
});
