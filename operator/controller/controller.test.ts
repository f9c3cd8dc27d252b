/**
 * The controller's lifecycle on a manual clock, against an API whose writes hang: a reconcile is
 * cut at its deadline (its call aborted) and retried; when the leadership term ends, the call in
 * flight is aborted at once, no further write is attempted and every worker is gone; a new term
 * starts exactly its own workers (none left over from the last).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createLogger } from '../../common/logger.ts';
import { ManualTime } from '../../common/manual-time.ts';
import type { KubeApi, KubeObject, ObjectList, WatchEvent } from '../../kube/api.ts';
import { Controller } from './controller.ts';
import { createOperatorMetrics } from './metrics.ts';

const POOL = {
  apiVersion: 'reranker.dev/v1alpha1',
  kind: 'RerankerPool',
  metadata: { name: 'search', namespace: 'ns', uid: 'u1', generation: 1, resourceVersion: '3' },
  spec: { backends: [{ name: 'a', apiBase: 'http://10.0.0.1:8080' }] },
};

/** What the fake API saw: each write, and when (and why) its call ended. */
interface Write {
  readonly path: string;
  readonly at: number;
  ended?: string;
}

/** Lists return the pool (or nothing); watches and writes hang until their signals abort. */
class HangingApi {
  readonly #signals: AbortSignal[];
  readonly #time: ManualTime;
  readonly writes: Write[];

  constructor(time: ManualTime, writes: Write[] = [], signals: AbortSignal[] = []) {
    this.#time = time;
    this.writes = writes;
    this.#signals = signals;
  }

  bound(signal: AbortSignal): HangingApi {
    return new HangingApi(this.#time, this.writes, [...this.#signals, signal]);
  }

  async list<T extends KubeObject>(path: string): Promise<ObjectList<T>> {
    return {
      items: (path.includes('rerankerpools') ? [structuredClone(POOL)] : []) as unknown as T[],
      resourceVersion: '5',
    };
  }

  async *watch(_path: string, _query: unknown, signal: AbortSignal): AsyncGenerator<WatchEvent> {
    await new Promise((_resolve, reject) =>
      signal.addEventListener('abort', () => reject(signal.reason), { once: true }),
    );
  }

  #hang(path: string, options: { signal?: AbortSignal } = {}): Promise<never> {
    const signal = AbortSignal.any([...this.#signals, ...(options.signal === undefined ? [] : [options.signal])]);
    const write: Write = { path, at: this.#time.now() };
    this.writes.push(write);
    return new Promise((_resolve, reject) => {
      const end = () => {
        write.ended = String((signal.reason as Error).message);
        reject(signal.reason);
      };
      if (signal.aborted) end();
      else signal.addEventListener('abort', end, { once: true });
    });
  }

  apply(path: string, _body: unknown, _manager: string, options?: { signal?: AbortSignal }): Promise<never> {
    return this.#hang(path, options);
  }

  mergePatch(path: string, _patch: unknown, options?: { signal?: AbortSignal }): Promise<never> {
    return this.#hang(path, options);
  }

  request(_method: string, path: string, options?: { signal?: AbortSignal }): Promise<never> {
    return this.#hang(path, options);
  }
}

const flush = async () => {
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
};

async function advance(time: ManualTime, ms: number, step = 50): Promise<void> {
  for (let t = 0; t < ms; t += step) {
    time.advance(step);
    await flush();
  }
}

test('a hanging reconcile is cut at its deadline; a term that ends aborts the call in flight, stops every worker, and writes nothing more', async () => {
  const time = new ManualTime();
  const api = new HangingApi(time);
  const controller = new Controller({
    api: api as unknown as KubeApi,
    logger: createLogger('silent'),
    timers: time,
    clock: time,
    random: () => 0.5,
    identity: 'op-1',
    namespaces: ['ns'],
    workers: 2,
    reconcileTimeoutMs: 10_000,
    askSidecar: async () => ({ hash: '', inconsistent: [] }),
  });
  const metrics = createOperatorMetrics(
    () => 0,
    () => ({}),
  );
  controller.start(metrics);
  await flush();

  const term = new AbortController();
  void controller.startLeading(term.signal);
  await flush();
  assert.equal(controller.workers, 2);
  assert.equal(api.writes.length, 1, 'the reconcile applies the ConfigMap, and the call hangs');
  const started = api.writes[0]!.at;

  await advance(time, 9_900);
  assert.equal(api.writes[0]!.ended, undefined, 'not cut before its 10 s deadline');
  await advance(time, 200);
  assert.match(api.writes[0]!.ended ?? '', /reconcile ns\/search: deadline of 10000 ms exceeded/);
  await advance(time, 100); // the retry backoff (50 ms)
  assert.equal(api.writes.length, 2, 'retried after its backoff');
  assert.ok(api.writes[1]!.at >= started + 10_000);

  const endedAt = time.now();
  term.abort(new Error('lost leadership'));
  await flush();
  assert.equal(api.writes[1]!.ended, 'lost leadership', 'the call in flight is aborted at once, with the term');
  assert.equal(controller.workers, 0, 'no worker outlives its term');
  await advance(time, 60_000, 500);
  assert.deepEqual(
    api.writes.filter((w) => w.at > endedAt),
    [],
    'no write after the term ended',
  );

  // A new term (as after a restart) runs exactly its own workers.
  const next = new AbortController();
  void controller.startLeading(next.signal);
  await flush();
  assert.equal(controller.workers, 2);
  next.abort(new Error('stop'));
  await flush();
  assert.equal(controller.workers, 0);
  controller.stop();
});
