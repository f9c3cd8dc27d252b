/**
 * The reconcile against in-memory caches and a recording API: counts of writes (no
 * self-inflicted patch while the cache lags our own write), sidecars re-verified after they
 * synced, and a pool too large for a ConfigMap.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createLogger } from '../../common/logger.ts';
import { poolSpecSchema, type PoolStatus, type RerankerPool } from '../crd/pool-schema.ts';
import { slicesDigest, type EndpointSlice } from '../../common/discovery/endpoint-slices.ts';
import type { CachedConfigMap, CachedPod } from './cache-transforms.ts';
import { reconcilePool, type Caches, type ReconcilerDeps } from './reconciler.ts';
import { checkSidecars } from './sidecar-sync.ts';
import { DEFAULT_VERIFY_POLICY } from './verify-policy.ts';
import { WriteMemo } from './write-memo.ts';

function poolOf(spec: unknown, rv = '1'): RerankerPool {
  return {
    metadata: { name: 'search', namespace: 'ns', uid: 'u1', generation: 1, resourceVersion: rv },
    spec: poolSpecSchema.parse(spec),
  };
}

function sliceOf(n: number): EndpointSlice {
  const endpoints = Array.from({ length: n }, (_, i) => ({
    addresses: [`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`],
    conditions: { ready: true },
    targetRef: { kind: 'Pod', name: `tei-7d9f8b6c4d-${String(i).padStart(5, '0')}` },
  }));
  return {
    metadata: { name: 'tei-1', namespace: 'ns', labels: { 'kubernetes.io/service-name': 'tei' } },
    addressType: 'IPv4',
    ports: [{ name: 'http', port: 8080 }],
    endpoints,
  };
}

/** A world whose caches only change when the test says so (as a lagging informer would). */
function world(spec: unknown, endpoints = 2) {
  const state = {
    pool: poolOf(spec),
    slices: [sliceOf(endpoints)],
    cm: undefined as CachedConfigMap | undefined,
    pods: [] as CachedPod[],
    served: new Map<string, string>(),
    merged: new Map<string, string>(),
  };
  /** Status fields a merge-patching older operator co-owns: an apply that omits them leaves them. */
  const coOwned = new Set<string>();
  const writes: { kind: 'apply' | 'status' | 'cleanup'; body: any; result?: PoolStatus }[] = [];
  /** The pool the apiserver returns after a status write (the caches see it on catchUp). */
  const stored = (result: PoolStatus): unknown => ({
    ...state.pool,
    metadata: { ...state.pool.metadata, resourceVersion: String(++rv) },
    status: result,
  });
  const events: string[] = [];
  let rv = 100;
  const caches: Caches = {
    pool: () => state.pool,
    slices: () => state.slices,
    serviceExists: () => true,
    configMap: () => state.cm,
    sidecarPods: () => state.pods,
  };
  const deps: ReconcilerDeps = {
    api: {
      async apply<T>(path: string, body: any) {
        if (path.endsWith('/status')) {
          // Server-side apply: other managers' conditions and co-owned fields stay.
          const before = (state.pool.status ?? {}) as any;
          const ours = new Set(body.status.conditions.map((c: any) => c.type));
          const kept = Object.fromEntries(
            [...coOwned]
              .filter((f) => before[f] !== undefined && body.status[f] === undefined)
              .map((f) => [f, before[f]]),
          );
          const result = {
            ...kept,
            ...body.status,
            conditions: [...(before.conditions ?? []).filter((c: any) => !ours.has(c.type)), ...body.status.conditions],
          };
          writes.push({ kind: 'status', body, result });
          return stored(result) as T;
        }
        writes.push({ kind: 'apply', body });
        return { metadata: { name: body.metadata.name, resourceVersion: String(++rv) } } as T;
      },
      async mergePatch<T>(_path: string, patch: any) {
        const result = Object.fromEntries(
          Object.entries({ ...writes.at(-1)!.result, ...patch.status }).filter(([, v]) => v !== null),
        ) as PoolStatus;
        writes.push({ kind: 'cleanup', body: patch, result });
        return stored(result) as T;
      },
    },
    caches,
    logger: createLogger('silent'),
    now: () => 'T0',
    event: (_pool, type, reason) => events.push(`${type} ${reason}`),
    askSidecars: (pods, port, wanted, endpoints) =>
      checkSidecars(pods, port, wanted, {
        endpoints,
        async ask(pod) {
          const served = state.served.get(pod.name);
          if (served === undefined) throw Object.assign(new Error('refused'), { code: 'ECONNREFUSED' });
          return { hash: served, endpoints: state.merged.get(pod.name), inconsistent: [] };
        },
      }),
    written: { config: new WriteMemo<string | undefined>(), status: new WriteMemo<PoolStatus | undefined>() },
    requeue: { policy: DEFAULT_VERIFY_POLICY, random: () => 0.5, lagStreaks: new Map() },
  };
  /** The informers catch up with every write so far. */
  function catchUp() {
    const applied = writes.filter((w) => w.kind === 'apply').at(-1);
    if (applied !== undefined)
      state.cm = {
        metadata: {
          name: applied.body.metadata.name,
          resourceVersion: 'cm-synced',
          annotations: applied.body.metadata.annotations,
        },
        dataHash: applied.body.metadata.annotations['reranker.dev/config-hash'],
      };
    const status = writes.filter((w) => w.kind !== 'apply').at(-1);
    if (status !== undefined)
      state.pool = {
        ...state.pool,
        metadata: { ...state.pool.metadata, resourceVersion: 'pool-synced' },
        status: status.result,
      };
  }
  return { state, coOwned, writes, events, deps, catchUp, reconcile: () => reconcilePool('ns/search', deps) };
}

const cond = (status: any, type: string) => status?.conditions?.find((c: any) => c.type === type);
const SPEC = {
  discovery: [{ service: 'tei', portName: 'http', apiFormat: 'tei' }],
  sidecarSelector: { matchLabels: { app: 'search-api' } },
};

describe('writes', () => {
  test('a cache that has not yet seen our own writes causes no second apply, patch or event', async () => {
    const w = world({ discovery: [{ service: 'tei', portName: 'http' }] });
    for (let i = 0; i < 5; i++) await w.reconcile(); // the caches still show the pre-write versions
    assert.deepEqual(
      w.writes.map((x) => x.kind),
      ['apply', 'status'],
    );
    assert.deepEqual(w.events, ['Normal Rendered']);
    w.catchUp();
    for (let i = 0; i < 5; i++) await w.reconcile();
    assert.deepEqual(
      w.writes.map((x) => x.kind),
      ['apply', 'status'],
      'still one of each after the caches caught up',
    );
  });

  test('discoveryMode sidecar (the default): 100 endpoint changes leave the ConfigMap alone', async () => {
    const w = world({ discovery: [{ service: 'tei', portName: 'http' }] });
    for (let i = 1; i <= 100; i++) {
      w.state.slices = [sliceOf(2 + (i % 2 === 0 ? i : 0))];
      await w.reconcile();
      if (i % 3 === 0) w.catchUp();
    }
    assert.equal(w.writes.filter((x) => x.kind === 'apply').length, 1, 'only the first render is applied');
    assert.match(
      w.writes[0]!.body.data['reranker_config.yaml'],
      /discovery:\n {2}- service: tei\n {4}port_name: http\n/,
    );
    assert.doesNotMatch(
      w.writes[0]!.body.data['reranker_config.yaml'],
      /10\.0\.0\./,
      'no endpoint address in the ConfigMap',
    );
  });

  test('discoveryMode rendered: 100 renders of changing endpoints: one apply and one status patch each, no more', async () => {
    const w = world({ routing: { discoveryMode: 'rendered' }, discovery: [{ service: 'tei', portName: 'http' }] });
    for (let i = 1; i <= 100; i++) {
      w.state.slices = [sliceOf(2 + (i % 2 === 0 ? i : 0))];
      await w.reconcile();
      await w.reconcile(); // a second event before the informer caught up
      if (i % 3 === 0) w.catchUp();
    }
    const applies = w.writes.filter((x) => x.kind === 'apply').length;
    const patches = w.writes.filter((x) => x.kind === 'status').length;
    assert.equal(applies, 100);
    assert.ok(patches <= applies, `${patches} status patches for ${applies} renders`);
  });
});

describe('sidecar sync', () => {
  test('synced sidecars are verified again; one that reverts turns SidecarsSynced False, naming it', async () => {
    const w = world(SPEC);
    w.state.pods = ['search-api-1', 'search-api-2'].map((name, i) => ({
      metadata: { name, namespace: 'ns', labels: { app: 'search-api' } },
      status: { podIP: `10.9.0.${i}` },
    }));
    const first = await w.reconcile();
    assert.deepEqual(
      [first.sidecars, first.requeueAfterMs],
      ['lagging', 1000],
      'not loaded yet: asked again after 1 s',
    );
    assert.equal((await w.reconcile()).requeueAfterMs, 2000, 'still lagging: backing off');
    const hash = w.writes[0]!.body.metadata.annotations['reranker.dev/config-hash'] as string;
    w.state.served.set('search-api-1', hash).set('search-api-2', hash);
    const digest = slicesDigest(['tei'], w.state.slices);
    w.state.merged.set('search-api-1', digest).set('search-api-2', digest);
    w.catchUp();
    assert.deepEqual(
      Object.values(await w.reconcile()),
      ['synced', 30_000],
      'a synced pool still asks to be verified again, after the resync period',
    );
    w.catchUp();
    assert.equal(cond(w.state.pool.status, 'SidecarsSynced').status, 'True');

    w.state.served.set('search-api-2', 'f'.repeat(64)); // reverted to a stale config
    assert.deepEqual(
      Object.values(await w.reconcile()),
      ['lagging', 1000],
      'the lag backoff started over after the pool was synced',
    );
    const status = w.writes.at(-1)!.body.status;
    assert.equal(cond(status, 'SidecarsSynced').status, 'False');
    assert.equal(
      cond(status, 'SidecarsSynced').message,
      `1/2 sidecars serve config ${hash.slice(0, 12)}; search-api-2 serves ffffffffffff (want ${hash.slice(0, 12)})`,
    );
    assert.deepEqual(status.sidecars, { synced: 1, total: 2, summary: '1/2', endpointsSynced: 2 });
  });

  test('settings and endpoints are told apart: an endpoint change the sidecars have not merged yet leaves SidecarsSynced True', async () => {
    const w = world(SPEC);
    w.state.pods = ['search-api-1', 'search-api-2'].map((name, i) => ({
      metadata: { name, namespace: 'ns', labels: { app: 'search-api' } },
      status: { podIP: `10.9.0.${i}` },
    }));
    await w.reconcile();
    const hash = w.writes[0]!.body.metadata.annotations['reranker.dev/config-hash'] as string;
    const old = slicesDigest(['tei'], w.state.slices);
    w.state.served.set('search-api-1', hash).set('search-api-2', hash);
    w.state.merged.set('search-api-1', old).set('search-api-2', old);
    w.catchUp();
    w.state.slices = [{ ...sliceOf(3), metadata: { ...sliceOf(3).metadata, resourceVersion: '77' } }];
    const now = slicesDigest(['tei'], w.state.slices);
    w.state.merged.set('search-api-1', now);
    assert.equal((await w.reconcile()).sidecars, 'lagging', 'verified again soon');
    const status = w.writes.at(-1)!.body.status;
    assert.equal(w.writes.filter((x) => x.kind === 'apply').length, 1, 'the ConfigMap is untouched');
    assert.equal(cond(status, 'SidecarsSynced').status, 'True');
    assert.equal(cond(status, 'EndpointsSynced').status, 'False');
    assert.equal(
      cond(status, 'EndpointsSynced').message,
      `1/2 sidecars merged endpoints ${now.slice(0, 12)}; search-api-2 has ${old.slice(0, 12)} (want ${now.slice(0, 12)})`,
    );
    assert.equal(cond(status, 'Ready').status, 'True', 'endpoints in motion do not make the pool unready');
    assert.deepEqual([status.endpointsDigest, status.sidecars.endpointsSynced], [now, 1]);
  });
});

describe('one canary per pool', () => {
  test("with routing.canary on and sidecar pods, the plan names the first pod and carries the runner's verdicts; off, nothing is written", async () => {
    const w = world({ ...SPEC, routing: { canary: { interval: '5m' } } });
    w.state.pods = ['search-api-2', 'search-api-1'].map((name, i) => ({
      metadata: { name, namespace: 'ns', labels: { app: 'search-api' } },
      status: { podIP: `10.9.0.${i}` },
    }));
    const deps: ReconcilerDeps = {
      ...w.deps,
      written: { ...w.deps.written, canaryPlan: new WriteMemo<string | undefined>() },
      askSidecars: (pods, port, wanted) =>
        checkSidecars(pods, port, wanted, {
          async ask(pod) {
            // search-api-1 runs it and found tei/tei-b inconsistent; search-api-2 repeats an old plan.
            return pod.name === 'search-api-1'
              ? { hash: wanted, inconsistent: ['tei/tei-b'], runnerRound: { inconsistent: ['tei/tei-b'], at: 'T1' } }
              : { hash: wanted, inconsistent: ['tei/stale'] };
          },
        }),
    };
    await reconcilePool('ns/search', deps);
    const plans = w.writes.filter(
      (x) => x.kind === 'apply' && x.body.metadata.name === 'search-reranker-config-canary',
    );
    assert.equal(plans.length, 1);
    assert.deepEqual(JSON.parse(plans[0]!.body.data['canary.json']), {
      runner: 'search-api-1',
      inconsistent: ['tei/tei-b'],
      judgedAt: 'T1',
    });
    assert.equal(plans[0]!.body.metadata.labels['reranker.dev/pool'], 'search');

    const off = world(SPEC);
    off.state.pods = w.state.pods;
    await reconcilePool('ns/search', {
      ...off.deps,
      written: { ...off.deps.written, canaryPlan: new WriteMemo<string | undefined>() },
    });
    assert.deepEqual(
      off.writes.filter((x) => x.kind === 'apply').map((x) => x.body.metadata.name),
      ['search-reranker-config'],
      'canary off: no plan',
    );
  });
});

describe('size', () => {
  test('a pool that grows past a ConfigMap keeps its last good ConfigMap and turns Ready=False (ConfigTooLarge) with a Warning', async () => {
    const w = world({ routing: { discoveryMode: 'rendered' }, discovery: [{ service: 'tei', portName: 'http' }] }, 100);
    await w.reconcile();
    w.catchUp();
    const good = w.state.cm!.dataHash;
    w.state.slices = [sliceOf(12_000)];
    await w.reconcile();
    assert.equal(w.writes.filter((x) => x.kind === 'apply').length, 1, 'the too-large config is not applied');
    const status = w.writes.at(-1)!.body.status;
    assert.deepEqual([cond(status, 'Ready').status, cond(status, 'Ready').reason], ['False', 'ConfigTooLarge']);
    assert.match(
      cond(status, 'ConfigRendered').message,
      /^the rendered config is \d+ bytes for 12000 backend\(s\) \(about \d+ bytes each\); a ConfigMap holds at most 1048576 bytes/,
    );
    assert.equal(status.configHash, good, 'status keeps the hash of the config in place');
    assert.deepEqual(w.events, ['Normal Rendered', 'Warning ConfigTooLarge']);
    w.catchUp();
    await w.reconcile();
    assert.deepEqual(w.events, ['Normal Rendered', 'Warning ConfigTooLarge'], 'one warning per transition');
  });

  test('in discoveryMode sidecar the same 12,000 endpoints are no problem: the ConfigMap holds no endpoint', async () => {
    const w = world({ discovery: [{ service: 'tei', portName: 'http' }] }, 12_000);
    await w.reconcile();
    const status = w.writes.at(-1)!.body.status;
    assert.equal(cond(status, 'Ready').status, 'True');
    assert.deepEqual(status.backends, { static: 0, discovered: 12_000, ready: 12_000 });
    assert.ok(w.writes[0]!.body.data['reranker_config.yaml'].length < 1000);
  });
});

describe('status by server-side apply', () => {
  test("another manager's condition is neither sent nor a reason to write; it survives our writes", async () => {
    const w = world({ discovery: [{ service: 'tei', portName: 'http' }] });
    await w.reconcile();
    w.catchUp();
    const external = {
      type: 'ExternalCheck',
      status: 'False',
      reason: 'Audit',
      message: 'written by another controller',
      lastTransitionTime: 'T0',
    } as const;
    w.state.pool = {
      ...w.state.pool,
      metadata: { ...w.state.pool.metadata, resourceVersion: 'external' },
      status: { ...w.state.pool.status, conditions: [external, ...w.state.pool.status!.conditions!] },
    };
    await w.reconcile();
    assert.deepEqual(
      w.writes.map((x) => x.kind),
      ['apply', 'status'],
      'a foreign condition alone causes no write',
    );

    w.state.slices = [sliceOf(3)];
    await w.reconcile();
    const last = w.writes.at(-1)!;
    assert.equal(last.kind, 'status');
    assert.deepEqual(
      last.body.status.conditions.map((c: any) => c.type).sort(),
      ['BackendsAvailable', 'ConfigRendered', 'ModelConsistent', 'Ready', 'SidecarsSynced'],
      'only our condition types are sent',
    );
    assert.deepEqual(
      [last.body.apiVersion, last.body.kind, last.body.metadata],
      ['reranker.dev/v1alpha1', 'RerankerPool', { name: 'search', namespace: 'ns' }],
    );
    assert.deepEqual(cond(last.result, 'ExternalCheck'), external);
    assert.equal(cond(last.result, 'BackendsAvailable').message, '3 ready backend(s): 0 static, 3 discovered');
  });

  test('a field an older merge-patching operator co-owns is removed by a merge patch once we stop setting it', async () => {
    const w = world(SPEC);
    w.state.pods = [
      {
        metadata: { name: 'search-api-1', namespace: 'ns', labels: { app: 'search-api' } },
        status: { podIP: '10.9.0.1' },
      },
    ];
    w.state.pool = { ...w.state.pool, status: { inconsistentBackends: ['tei/old'] } };
    w.coOwned.add('inconsistentBackends');
    await w.reconcile();
    assert.deepEqual(
      w.writes.map((x) => x.kind),
      ['apply', 'status', 'cleanup'],
    );
    assert.deepEqual(w.writes.at(-1)!.body, { status: { inconsistentBackends: null } });
    assert.equal(w.writes.at(-1)!.result!.inconsistentBackends, undefined);
    w.catchUp();
    await w.reconcile();
    assert.deepEqual(
      w.writes.map((x) => x.kind),
      ['apply', 'status', 'cleanup'],
      'nothing more to write',
    );
  });
});

describe("pools written in the CRD's former units", () => {
  test("float seconds and number fractions are read as today's units, named in a Warning event; the pool renders", async () => {
    const w = world(SPEC);
    // As etcd keeps it: the apiserver validates writes, not reads.
    w.state.pool = {
      ...w.state.pool,
      spec: {
        ...SPEC,
        routing: { retryDelay: 0.2, canary: { threshold: 0.6, interval: 30 } },
        backends: [{ name: 'hosted', apiBase: 'https://api.example', timeout: 10, weight: 2 }],
      } as any,
    };
    await w.reconcile();
    const text: string = w.writes.find((x) => x.kind === 'apply')!.body.data['reranker_config.yaml'];
    assert.match(text, /retry_delay: 0\.2\n/);
    assert.match(text, /timeout: 10\n/);
    assert.match(text, /interval: 30\n/);
    assert.deepEqual(w.events, ['Normal Rendered', 'Warning DeprecatedUnits']);
    assert.equal(cond(w.writes.find((x) => x.kind === 'status')!.result, 'ConfigRendered').status, 'True');
  });

  test("a value with no reading in today's units (a fractional weight) is refused, naming the field", async () => {
    const w = world(SPEC);
    w.state.pool = {
      ...w.state.pool,
      spec: { ...SPEC, backends: [{ name: 'hosted', apiBase: 'https://api.example', weight: 0.5 }] } as any,
    };
    await w.reconcile();
    const rendered = cond(w.writes.find((x) => x.kind === 'status')!.result, 'ConfigRendered');
    assert.equal(rendered.reason, 'InvalidSpec');
    assert.match(rendered.message, /spec\.backends\[0\]\.weight: expected int, got 0\.5/);
  });
});

test("two Secret references that fold to one variable are refused, naming both (one backend would get the other's key)", async () => {
  const ref = (name: string) => ({ name, key: 'api-key' });
  const w = world({
    ...SPEC,
    backends: [
      { name: 'a', apiBase: 'https://a.example', apiKeySecretRef: ref('rerank.team-a') },
      { name: 'b', apiBase: 'https://b.example', apiKeySecretRef: ref('rerank-team-a') },
    ],
  });
  await w.reconcile();
  assert.deepEqual(
    w.writes.map((x) => x.kind),
    ['status'],
    'no ConfigMap',
  );
  const rendered = cond(w.writes[0]!.result, 'ConfigRendered');
  assert.equal(rendered.reason, 'InvalidSpec');
  assert.equal(
    rendered.message,
    "spec.backends[1].apiKeySecretRef: rerank-team-a/api-key and backends[0]'s rerank.team-a/api-key both map to the variable RERANKER_KEY_RERANK_TEAM_A__API_KEY; rename one Secret or key",
  );
  const same = world({
    ...SPEC,
    backends: [
      { name: 'a', apiBase: 'https://a.example', apiKeySecretRef: ref('cohere') },
      { name: 'b', apiBase: 'https://b.example', apiKeySecretRef: ref('cohere') },
    ],
  });
  await same.reconcile();
  assert.equal(same.writes[0]!.kind, 'apply', 'one Secret used twice is fine');
});
