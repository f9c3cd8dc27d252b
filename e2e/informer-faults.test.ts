/**
 * The informer against the real kube-apiserver through the fault proxy: under 410 (in a watch and
 * on a list), 429 with Retry-After, 500 with a non-JSON body, watches cut mid-stream and watches
 * that close at once, it converges to the apiserver's state, its lists after a failure are served
 * from the watch cache (the query counted at the proxy: a resourceVersion, not a consistent read)
 * except after the server refused that resourceVersion, and it backs off (requests bounded); a
 * hanging list is given up after the request timeout.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { systemClock, systemTimers } from '../common/clock.ts';
import { createLogger } from '../common/logger.ts';
import { KubeApi, type KubeObject } from '../kube/api.ts';
import { Informer } from '../kube/informer.ts';
import { loadKubeConnection } from '../kube/kubeconfig.ts';
import { Cluster, type User } from './support/cluster.ts';
import { FaultProxy, type RecordedRequest } from './support/fault-proxy.ts';
import { eventually } from './support/processes.ts';

const NS = 'faults';
const CLIENT: User = { name: 'informer-client', token: 'informer-client-token', groups: ['system:masters'] };

let cluster: Cluster;
let proxy: FaultProxy;
let api: KubeApi;
const running: Informer<KubeObject>[] = [];

before(async () => {
  cluster = new Cluster([CLIENT]);
  await cluster.start();
  cluster.kubectl(['create', 'namespace', NS]);
  for (let i = 0; i < 5; i++) cluster.kubectl(['create', 'configmap', `cm-${i}`, '-n', NS, `--from-literal=v=${i}`]);
  proxy = await FaultProxy.start(cluster);
  api = new KubeApi(loadKubeConnection({ KUBECONFIG: proxy.kubeconfig(CLIENT) }));
});

after(async () => {
  for (const inf of running) inf.stop();
  await proxy?.stop();
  await cluster?.stop();
});

function start(name: string): { informer: Informer<KubeObject>; restarts: string[]; since: number } {
  const restarts: string[] = [];
  const informer = new Informer<KubeObject>(api, {
    name,
    path: `/api/v1/namespaces/${NS}/configmaps`,
    onEvent: () => {},
    onRestart: (reason) => restarts.push(reason),
    logger: createLogger('silent'),
    timers: systemTimers,
    clock: systemClock,
    random: Math.random,
  });
  running.push(informer);
  const since = Date.now();
  informer.start();
  return { informer, restarts, since };
}

/** The apiserver's own view: name -> resourceVersion. */
function truth(): Record<string, string> {
  const list = cluster.getJson<{ items: KubeObject[] }>(['configmaps', '-n', NS]);
  return Object.fromEntries(list.items.map((cm) => [cm.metadata.name, cm.metadata.resourceVersion!]));
}

function view(informer: Informer<KubeObject>): Record<string, string> {
  return Object.fromEntries(informer.list().map((cm) => [cm.metadata.name, cm.metadata.resourceVersion!]));
}

/** Within 30 s: a few failures in a row back off 0.8-1.6, 1.6-3.2, 3.2-6.4 s, ... */
async function converged(informer: Informer<KubeObject>, what: string, ms = 30_000): Promise<void> {
  await eventually(
    () => JSON.stringify(Object.entries(view(informer)).sort()) === JSON.stringify(Object.entries(truth()).sort()),
    ms,
    `the informer to converge ${what}`,
  );
}

const mine = (since: number, kind?: 'list' | 'watch') => (r: RecordedRequest) =>
  r.client === CLIENT.name &&
  r.at >= since &&
  r.path === `/api/v1/namespaces/${NS}/configmaps` &&
  (kind === undefined || (kind === 'watch') === r.watch);

describe('informer through the fault proxy', () => {
  test('the first list is served from the watch cache (resourceVersion=0); the watch asks for bookmarks', async () => {
    const { informer, since } = start('baseline');
    await informer.waitForSync();
    await converged(informer, 'at start');
    const [list] = proxy.requests.filter(mine(since, 'list'));
    assert.equal(list!.query.resourceVersion, '0');
    const watch = await eventually(() => proxy.requests.find(mine(since, 'watch')), 5000, 'a watch');
    assert.equal(watch.query.allowWatchBookmarks, 'true');
    assert.equal(watch.query.resourceVersion, informer.resourceVersion);
    informer.stop();
  });

  test('410 in the watch: a list from the cache at the last RV (NotOlderThan); 410 on that list: one consistent, paged list', async () => {
    const { informer, since } = start('gone');
    await eventually(() => proxy.requests.find(mine(since, 'watch')), 5000, 'a watch');
    await informer.waitForSync();
    const off = proxy.fault({ client: CLIENT.name, watch: true, times: 1, action: { kind: 'watch-error', code: 410 } });
    const offList = proxy.fault({
      client: CLIENT.name,
      watch: false,
      path: /configmaps$/,
      times: 1,
      action: { kind: 'status', status: 410 },
    });
    // Change the world, then cut the running watch so that the next one meets the faults.
    cluster.kubectl(['create', 'configmap', 'cm-new', '-n', NS, '--from-literal=v=new']);
    cluster.kubectl(['delete', 'configmap', 'cm-0', '-n', NS]);
    await eventually(() => view(informer)['cm-new'] !== undefined, 5000, 'the watch to deliver');
    proxy.dropWatches(CLIENT.name);
    cluster.kubectl(['create', 'configmap', 'cm-gone', '-n', NS, '--from-literal=v=new']);
    await converged(informer, 'after 410s');
    off();
    offList();
    const lists = proxy.requests.filter(mine(since, 'list')).map((r) => r.query);
    assert.equal(lists[0]!.resourceVersion, '0');
    const afterFailure = lists.slice(1);
    assert.ok(afterFailure.length >= 2, JSON.stringify(lists));
    assert.equal(
      afterFailure[0]!.resourceVersionMatch,
      'NotOlderThan',
      'after a failure: from the cache at the last RV',
    );
    assert.match(afterFailure[0]!.resourceVersion ?? '', /^\d+$/);
    assert.deepEqual(
      [afterFailure[1]!.resourceVersion, afterFailure[1]!.limit],
      [undefined, '500'],
      'the cache refused (410): a consistent list, paged',
    );
    informer.stop();
  });

  test('429 with Retry-After: the informer waits as long as asked, then converges', async () => {
    const { informer, since } = start('throttled');
    await informer.waitForSync();
    proxy.fault({ client: CLIENT.name, watch: true, times: 2, action: { kind: 'status', status: 429, retryAfter: 2 } });
    proxy.dropWatches(CLIENT.name); // the next watches meet the 429s
    cluster.kubectl(['create', 'configmap', 'cm-429', '-n', NS, '--from-literal=v=1']);
    await converged(informer, 'after 429s');
    const watches = proxy.requests.filter(mine(since, 'watch'));
    const throttled = watches.filter((r) => r.status === 429);
    assert.ok(throttled.length >= 1, 'a watch was throttled');
    const afterFirst429 = watches.filter((r) => r.at > throttled[0]!.at);
    assert.ok(afterFirst429.length > 0);
    assert.ok(
      afterFirst429[0]!.at - throttled[0]!.at >= 1900,
      `waited ${afterFirst429[0]!.at - throttled[0]!.at} ms after Retry-After: 2`,
    );
    informer.stop();
  });

  test('500 with an HTML body on lists, and a watch cut mid-stream: converges; the cut watch resumes from its RV without a list', async () => {
    const { informer, since } = start('broken');
    await informer.waitForSync();
    const listsBefore = proxy.requests.filter(mine(since, 'list')).length;
    // A watch cut after its first event resumes (no list).
    proxy.fault({ client: CLIENT.name, watch: true, times: 1, action: { kind: 'drop-watch', afterEvents: 1 } });
    proxy.dropWatches(CLIENT.name);
    const dropping = await eventually(
      () => proxy.requests.filter(mine(since, 'watch')).find((r) => r.fault === 'drop-watch'),
      10_000,
      'the dropping watch',
    );
    cluster.kubectl(['create', 'configmap', 'cm-cut', '-n', NS, '--from-literal=v=1']);
    await converged(informer, 'after a cut watch');
    const resumed = await eventually(
      () => proxy.requests.filter(mine(dropping.at, 'watch')).find((r) => r !== dropping),
      10_000,
      'a resumed watch',
    );
    assert.equal(resumed.query.resourceVersion, view(informer)['cm-cut'], 'resumed from the RV of the last event seen');
    assert.deepEqual(
      proxy.requests.filter(mine(dropping.at, 'list')).filter((r) => r.at <= resumed.at),
      [],
      'no list before the resumed watch',
    );
    // Non-JSON 500s on lists: backed off and survived.
    proxy.fault({
      client: CLIENT.name,
      watch: false,
      times: 1,
      action: { kind: 'status', status: 500, body: '<html>oops</html>', contentType: 'text/html' },
    });
    proxy.fault({ client: CLIENT.name, watch: true, times: 1, action: { kind: 'watch-error', code: 500 } });
    proxy.dropWatches(CLIENT.name);
    cluster.kubectl(['create', 'configmap', 'cm-500', '-n', NS, '--from-literal=v=1']);
    await converged(informer, 'after 500s');
    const failedLists = proxy.requests.filter(mine(since, 'list')).filter((r) => r.status === 500);
    assert.ok(failedLists.length >= 1);
    assert.ok(
      proxy.requests
        .filter(mine(since, 'list'))
        .slice(listsBefore)
        .every((r) => r.query.resourceVersion !== undefined),
      'every list after these failures came from the cache',
    );
    informer.stop();
  });

  test('watches that close at once for 12 s: backoff keeps the requests few; then it converges', async () => {
    const { informer, since } = start('instant');
    await informer.waitForSync();
    const off = proxy.fault({ client: CLIENT.name, watch: true, action: { kind: 'close-watch' } });
    proxy.dropWatches(CLIENT.name);
    await new Promise((r) => setTimeout(r, 12_000));
    const during = proxy.requests.filter(mine(since));
    off();
    cluster.kubectl(['create', 'configmap', 'cm-instant', '-n', NS, '--from-literal=v=1']);
    await converged(informer, 'after instant closes');
    // 0.8-1.6, 1.6-3.2, 3.2-6.4, 6.4-12.8 s: at most ~5 watch+list pairs in 12 s, never a tight loop.
    assert.ok(during.length <= 14, `${during.length} requests in 12 s`);
    assert.ok(
      during
        .filter((r) => !r.watch)
        .slice(1)
        .every((r) => r.query.resourceVersionMatch === 'NotOlderThan'),
      'the re-lists came from the cache',
    );
    informer.stop();
  });

  test("a list that hangs is given up after the client's 30 s request timeout, backed off and retried from the cache", async () => {
    const { informer, since } = start('hung');
    await informer.waitForSync();
    proxy.fault({ client: CLIENT.name, watch: false, times: 1, action: { kind: 'hang' } });
    proxy.fault({ client: CLIENT.name, watch: true, times: 1, action: { kind: 'status', status: 500 } });
    proxy.dropWatches(CLIENT.name);
    cluster.kubectl(['create', 'configmap', 'cm-hung', '-n', NS, '--from-literal=v=1']);
    await eventually(
      () => proxy.requests.filter(mine(since, 'list')).some((r) => r.fault === 'hang'),
      10_000,
      'the hanging list',
    );
    await converged(informer, 'after a hung list', 60_000);
    const lists = proxy.requests.filter(mine(since, 'list'));
    const hung = lists.find((r) => r.fault === 'hang')!;
    const next = lists.find((r) => r.at > hung.at)!;
    assert.ok(next.at - hung.at >= 30_000, `the next list came ${next.at - hung.at} ms after the hung one`);
    assert.equal(next.query.resourceVersionMatch, 'NotOlderThan');
    informer.stop();
  });
});
