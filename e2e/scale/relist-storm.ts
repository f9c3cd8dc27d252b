/**
 * 1,000 watchers restarting at once, against a local kube-apiserver + etcd: where their lists are
 * served from — the API server's watch cache or etcd — by the apiserver's own metrics
 * (apiserver_cache_list_total, etcd_requests_total by operation, apiserver_request_total 429s).
 *
 * Part 1, one list per watcher, all at once, for each list the informer can make (each watcher
 * selects its own ConfigMap by name, as a sidecar does): the old informer's unversioned list,
 * today's first list (resourceVersion=0), a list after a failure (the last RV, NotOlderThan), and
 * the consistent paged list kept for a refused RV.
 * Part 2, the informers themselves: 1,000 synced informers, then the apiserver is killed and
 * restarted (every watch breaks at once); what they ask for until all are watching again.
 *
 *   node e2e/scale/relist-storm.ts [--watchers 1000] [--objects 1000] [--out docs/results/relist-storm.json]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { Agent, request } from 'undici';
import { systemClock, systemTimers } from '../../common/clock.ts';
import { createLogger } from '../../common/logger.ts';
import { KubeApi, KubeApiError, type KubeObject } from '../../kube/api.ts';
import { Informer, type ListWatchApi } from '../../kube/informer.ts';
import { loadKubeConnection } from '../../kube/kubeconfig.ts';
import { listPages } from '../../kube/list-pages.ts';
import { DEFAULT_TUNING, INITIAL_STATE, listQuery } from '../../kube/reflector-plan.ts';
import { ADMIN, Cluster } from '../support/cluster.ts';

const { values: args } = parseArgs({
  options: {
    watchers: { type: 'string', default: '1000' },
    objects: { type: 'string', default: '1000' },
    out: { type: 'string', default: 'docs/results/relist-storm.json' },
    'skip-restart': { type: 'boolean', default: false },
  },
});
const WATCHERS = Number(args.watchers);
const OBJECTS = Number(args.objects);
const NS = 'storm';

/** The counters that tell where lists were served from. */
async function counters(c: Cluster, agent: Agent): Promise<Record<string, number>> {
  const res = await request(`${c.url}/metrics`, {
    dispatcher: agent,
    headers: { authorization: `Bearer ${ADMIN.token}` },
  });
  const text = await res.body.text();
  const out: Record<string, number> = {
    cacheLists: 0,
    etcdGets: 0,
    etcdLists: 0,
    storageLists: 0,
    lists429: 0,
    lists: 0,
  };
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || !line.includes('resource="configmaps"')) continue;
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (line.startsWith('apiserver_cache_list_total{')) out.cacheLists! += value;
    else if (line.startsWith('apiserver_storage_list_total{')) out.storageLists! += value;
    else if (line.startsWith('etcd_requests_total{')) {
      const op = /operation="([^"]*)"/.exec(line)?.[1] ?? '';
      if (op === 'get') out.etcdGets! += value;
      else if (op.startsWith('list')) out.etcdLists! += value;
    } else if (line.startsWith('apiserver_request_total{') && line.includes('verb="LIST"')) {
      out.lists! += value;
      if (line.includes('code="429"')) out.lists429! += value;
    }
  }
  return out;
}

const delta = (a: Record<string, number>, b: Record<string, number>) =>
  Object.fromEntries(Object.keys(b).map((k) => [k, b[k]! - (a[k] ?? 0)]));

/** One list per watcher, all at once, retrying a 429 after its Retry-After as the informer would. */
async function storm(
  api: KubeApi,
  query: (i: number) => Record<string, string | undefined>,
): Promise<{ seconds: number; retried429: number }> {
  const started = performance.now();
  let retried429 = 0;
  await Promise.all(
    Array.from({ length: WATCHERS }, async (_, i) => {
      for (;;) {
        try {
          await listPages(api, `/api/v1/namespaces/${NS}/configmaps`, {
            fieldSelector: `metadata.name=cm-${i % OBJECTS}`,
            ...query(i),
          });
          return;
        } catch (error) {
          if (!(error instanceof KubeApiError && error.status === 429)) throw error;
          retried429++;
          await new Promise((r) => setTimeout(r, (error.retryAfterSeconds ?? 1) * 1000 * (0.5 + Math.random())));
        }
      }
    }),
  );
  return { seconds: (performance.now() - started) / 1000, retried429 };
}

/** Counts the lists the informers make, by the kind of query. */
function countingApi(api: KubeApi, kinds: Record<string, number>): ListWatchApi {
  return {
    list(path, query, options) {
      const kind =
        query.continue !== undefined
          ? 'next page'
          : query.resourceVersion === undefined
            ? 'consistent'
            : query.resourceVersion === '0'
              ? 'RV=0'
              : 'RV=last (NotOlderThan)';
      kinds[kind] = (kinds[kind] ?? 0) + 1;
      return api.list(path, query, options);
    },
    watch: (path, query, signal) => api.watch(path, query, signal),
  };
}

async function main(): Promise<void> {
  const cluster = new Cluster([]);
  const agent = new Agent({ connect: { rejectUnauthorized: false } });
  const results: Record<string, unknown> = {
    watchers: WATCHERS,
    objects: OBJECTS,
    kubeVersion: cluster.bin.split('/').at(-2),
  };
  try {
    await cluster.start();
    cluster.kubectl(['create', 'namespace', NS]);
    const items = Array.from({ length: OBJECTS }, (_, i) => ({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: `cm-${i}`, namespace: NS },
      data: { 'reranker_config.yaml': `# sidecar ${i}\n${'x'.repeat(2000)}` },
    }));
    for (let i = 0; i < items.length; i += 200) cluster.apply(items.slice(i, i + 200));
    // One client for all watchers (its connections are pooled as 1,000 processes' would not be; the apiserver's work is the same).
    const api = new KubeApi(loadKubeConnection({ KUBECONFIG: cluster.kubeconfig(ADMIN) }));
    const current = (await api.list(`/api/v1/namespaces/${NS}/configmaps`, { limit: '1' })).resourceVersion;

    const modes: [string, (i: number) => Record<string, string | undefined>][] = [
      ['before: the old informer (no resourceVersion, unpaged)', () => ({})],
      ['now: first list (resourceVersion=0)', () => listQuery(INITIAL_STATE, DEFAULT_TUNING)],
      [
        'now: list after a failure (last RV, NotOlderThan)',
        () => listQuery({ ...INITIAL_STATE, rv: current }, DEFAULT_TUNING),
      ],
      [
        'now: after a refused RV (consistent, limit=500)',
        () => listQuery({ ...INITIAL_STATE, rv: current, rvUnavailable: true }, DEFAULT_TUNING),
      ],
    ];
    const part1: Record<string, unknown>[] = [];
    for (const [name, query] of modes) {
      await storm(api, query); // warm: connections open, caches primed
      const before = await counters(cluster, agent);
      const run = await storm(api, query);
      const after = await counters(cluster, agent);
      const row = { mode: name, query: query(0), ...run, apiserver: delta(before, after) };
      part1.push(row);
      console.log(JSON.stringify(row));
    }
    results.oneListEach = part1;

    if (!args['skip-restart']) {
      const kinds: Record<string, number> = {};
      const counting = countingApi(api, kinds);
      const informers = Array.from(
        { length: WATCHERS },
        (_, i) =>
          new Informer<KubeObject>(counting, {
            name: `w${i}`,
            path: `/api/v1/namespaces/${NS}/configmaps`,
            fieldSelector: `metadata.name=cm-${i % OBJECTS}`,
            onEvent: () => {},
            logger: createLogger('silent'),
            timers: systemTimers,
            clock: systemClock,
            random: Math.random,
          }),
      );
      let started = performance.now();
      for (const inf of informers) inf.start();
      await Promise.all(informers.map((inf) => inf.waitForSync()));
      const firstSync = { seconds: (performance.now() - started) / 1000, lists: { ...kinds } };
      console.log(JSON.stringify({ firstSync }));
      await new Promise((r) => setTimeout(r, 3000)); // watches open
      for (const k of Object.keys(kinds)) delete kinds[k];
      const restartsBefore = informers.reduce((n, inf) => n + inf.restarts, 0);
      started = performance.now();
      await cluster.restartApiserver(1000);
      // The restarted apiserver's counters start at zero: they count exactly the recovery.
      await new Promise((r) => setTimeout(r, 45_000));
      const after = await counters(cluster, agent);
      const restart = {
        secondsObserved: (performance.now() - started) / 1000,
        informerLists: kinds,
        failures: informers.reduce((n, inf) => n + inf.restarts, 0) - restartsBefore,
        apiserver: after,
      };
      console.log(JSON.stringify({ restart }));
      results.apiserverRestart = { firstSync, restart };
      for (const inf of informers) inf.stop();
    }
  } finally {
    await cluster.stop();
    await agent.close();
  }
  mkdirSync(dirname(args.out), { recursive: true });
  writeFileSync(args.out, JSON.stringify(results, null, 2) + '\n');
  console.log(`wrote ${args.out}`);
  process.exit(0);
}

void main();
