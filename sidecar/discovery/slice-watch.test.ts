/**
 * The slice watch against a scripted list/watch API on a manual clock: a burst of slice events
 * becomes one merge within the coalescing window, the label selector names the Services, and a
 * change of Services starts a new watch whose first list is merged even when it is empty.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createLogger } from '../../common/logger.ts';
import { ManualTime } from '../../common/manual-time.ts';
import type { KubeObject, ObjectList, WatchEvent } from '../../kube/api.ts';
import type { ListWatchApi } from '../../kube/informer.ts';
import { SliceWatch } from './slice-watch.ts';

const slice = (name: string, service: string, rv: string) => ({
  metadata: {
    name,
    namespace: 'app',
    resourceVersion: rv,
    labels: { 'kubernetes.io/service-name': service },
    managedFields: [{ big: true }],
  },
  addressType: 'IPv4',
  ports: [{ name: 'http', port: 8080 }],
  endpoints: [
    {
      addresses: ['198.18.0.2'],
      conditions: { ready: true },
      targetRef: { kind: 'Pod', name: 'p', uid: 'u' },
      nodeName: 'n1',
    },
  ],
});

/** Lists `items` per selector; each watch yields the queued events, then hangs until aborted. */
function scriptedApi(items: Record<string, KubeObject[]>) {
  const selectors: string[] = [];
  const queued: WatchEvent[][] = [];
  let wake: (() => void) | undefined;
  const api: ListWatchApi = {
    async list<T extends KubeObject>(_path: string, query: Record<string, string | undefined>): Promise<ObjectList<T>> {
      selectors.push(query.labelSelector!);
      return { items: (items[query.labelSelector!] ?? []) as T[], resourceVersion: '1' };
    },
    async *watch(_path, _query, signal) {
      while (!signal.aborted) {
        const batch = queued.shift();
        if (batch !== undefined) {
          yield* batch;
          continue;
        }
        await new Promise<void>((resolve) => {
          wake = resolve;
          signal.addEventListener('abort', () => resolve(), { once: true });
        });
      }
    },
  };
  function push(events: WatchEvent[]): void {
    queued.push(events);
    wake?.();
  }
  return { api, selectors, push };
}

const flush = async () => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
};

/** A slice watch of Service "tei" (one slice listed) on a manual clock, counting merges. */
function world() {
  const time = new ManualTime();
  const { api, selectors, push } = scriptedApi({
    'kubernetes.io/service-name in (tei)': [slice('tei-1', 'tei', '1') as unknown as KubeObject],
  });
  const count = { merges: 0 };
  const watch = new SliceWatch({
    api,
    namespace: 'app',
    logger: createLogger('silent'),
    timers: time,
    clock: time,
    random: () => 0.5,
    onChange: () => count.merges++,
    coalesceMs: 100,
  });
  return { time, selectors, push, watch, merges: () => count.merges };
}

test('a burst of slice events is merged once, within the coalescing window; only what discovery reads is kept', async () => {
  const { time, selectors, push, watch, merges } = world();
  watch.follow(['tei']);
  await flush();
  time.advance(100);
  assert.equal(merges(), 1, 'the first list');
  assert.deepEqual(selectors, ['kubernetes.io/service-name in (tei)']);
  const kept = watch.slices()[0] as any;
  assert.equal(kept.metadata.managedFields, undefined);
  assert.equal(kept.endpoints[0].nodeName, undefined);
  const first = watch.report().digest;

  push([2, 3, 4, 5].map((rv) => ({ type: 'MODIFIED', object: slice('tei-1', 'tei', String(rv)) })));
  await flush();
  time.advance(99);
  assert.equal(merges(), 1, 'not before the window ends');
  time.advance(1);
  assert.equal(merges(), 2, 'four events, one merge');
  assert.equal((watch.slices()[0] as any).metadata.resourceVersion, '5');
  assert.notEqual(watch.report().digest, first);
  watch.stop();
});

test('other Services: a new watch, and its first list is merged even when it holds no slice', async () => {
  const { time, selectors, watch, merges } = world();
  watch.follow(['tei']);
  await flush();
  time.advance(100);
  watch.follow(['tei']);
  assert.equal(selectors.length, 1, 'the same Services: the same watch');
  watch.follow(['bge', 'tei']);
  await flush();
  time.advance(100);
  assert.deepEqual(selectors, ['kubernetes.io/service-name in (tei)', 'kubernetes.io/service-name in (bge,tei)']);
  assert.equal(merges(), 2);
  assert.deepEqual(watch.slices(), [], 'the new list is empty');
  watch.stop();
});
