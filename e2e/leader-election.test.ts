/**
 * Two operators through the fault proxy, three leadership changes: each time, every API request
 * of the leader hangs (a partition) while the pool keeps changing. The leader's term ends at its
 * renew deadline: it makes no write after it (counted at the proxy) and exits 1; the standby leads
 * only after the lease expired, and the pool converges. The exited one is restarted as the new
 * standby, and each new leader runs exactly its configured workers (no leak across terms).
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, test } from 'node:test';
import { freePort } from '../test/support/ports.ts';
import { Cluster, type User } from './support/cluster.ts';
import { FaultProxy } from './support/fault-proxy.ts';
import { eventually, startProcess, stopAll, type Proc } from './support/processes.ts';

const NS = 'rrlb-leader';
const RENEW_DEADLINE_MS = 10_000;
const OP_A: User = { name: 'operator-a', token: 'operator-a-token', groups: ['system:masters'] };
const OP_B: User = { name: 'operator-b', token: 'operator-b-token', groups: ['system:masters'] };

let cluster: Cluster;
let proxy: FaultProxy;

interface Operator {
  readonly user: User;
  readonly proc: Proc;
  readonly port: number;
}

before(async () => {
  cluster = new Cluster([OP_A, OP_B]);
  await cluster.start();
  cluster.kubectl(['apply', '-f', 'crds/']);
  cluster.kubectl(['wait', '--for=condition=Established', 'crd/rerankerpools.reranker.dev', '--timeout=30s']);
  cluster.kubectl(['create', 'namespace', NS]);
  proxy = await FaultProxy.start(cluster);
});

after(async () => {
  await stopAll();
  await proxy?.stop();
  await cluster?.stop();
});

/** Workers each leader runs: set, so a leak (more) or a missing start (fewer) shows. */
const WORKERS = 2;

async function startOperator(user: User): Promise<Operator> {
  const port = await freePort();
  const proc = startProcess(user.name, 'operator/main.ts', {
    KUBECONFIG: proxy.kubeconfig(user),
    POD_NAMESPACE: NS,
    POD_NAME: user.name,
    WATCH_NAMESPACES: NS,
    OPERATOR_PORT: String(port),
    OPERATOR_HOST: '127.0.0.1',
    OPERATOR_RECONCILE_TIMEOUT_SECONDS: '2',
    OPERATOR_WORKERS: String(WORKERS),
  });
  return { user, proc, port };
}

async function metric(op: Operator, name: string): Promise<number | undefined> {
  const text = await (await fetch(`http://127.0.0.1:${op.port}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.split(' ')[1]);
}

/** Its caches synced (a standby ready to lead); its output in the error if not. */
async function warm(op: Operator): Promise<void> {
  await eventually(
    async () => (await metric(op, 'reranker_operator_informer_synced{resource="rerankerpools"}')) === 1 || undefined,
    30_000,
    `${op.user.name} to be warm`,
  ).catch((error: Error) => {
    throw new Error(`${error.message}\n${op.proc.text().slice(-3000)}`);
  });
}

function holder(): string {
  return cluster.getJson(['lease', 'reranker-lb-operator', '-n', NS]).spec.holderIdentity ?? '';
}

function pool(weight: number): Record<string, unknown> {
  return {
    apiVersion: 'reranker.dev/v1alpha1',
    kind: 'RerankerPool',
    metadata: { name: 'search', namespace: NS },
    spec: { backends: [{ name: 'a', apiBase: 'http://10.0.0.1:8080', weight }] },
  };
}

/** The pool's status is about its latest spec (the operator rendered what is there now). */
function converged(): boolean {
  const p = cluster.getJson(['rrp', 'search', '-n', NS]);
  const rendered = p.status?.conditions?.find((c: { type: string }) => c.type === 'ConfigRendered');
  return (
    p.status?.observedGeneration === p.metadata.generation &&
    rendered?.status === 'True' &&
    rendered.observedGeneration === p.metadata.generation
  );
}

test("the leader's requests hang: it writes nothing after its renew deadline and exits; the standby leads after the lease expires; three times, no worker leak", async (t) => {
  let leader = await startOperator(OP_A);
  await eventually(() => holder().startsWith('operator-a_'), 20_000, 'operator-a to lead');
  let standby = await startOperator(OP_B);
  let weight = 1;
  cluster.apply(pool(weight));
  await eventually(converged, 20_000, 'the pool to be rendered');
  await warm(standby);

  for (let change = 1; change <= 3; change++) {
    assert.equal(
      await metric(leader, 'reranker_operator_workers'),
      WORKERS,
      `term ${change}: the leader runs its ${WORKERS} workers`,
    );
    assert.equal(await metric(standby, 'reranker_operator_workers'), 0, `term ${change}: the standby runs none`);
    const hungAt = Date.now();
    const release = proxy.fault({ client: leader.user.name, action: { kind: 'hang' } });
    // The pool keeps changing: the leader's open watch still delivers, so it tries to write.
    const exited = once(leader.proc.child, 'exit') as Promise<[number | null, string | null]>;
    let exitCode: number | null | undefined;
    let exitedAt = 0;
    void exited.then(([code]) => {
      exitCode = code;
      exitedAt = Date.now();
    });
    while (exitCode === undefined && Date.now() - hungAt < 30_000) {
      cluster.apply(pool(++weight));
      await new Promise((r) => setTimeout(r, 300));
    }
    assert.equal(exitCode, 1, `term ${change}: the old leader exits with status 1`);
    assert.ok(
      leader.proc.lines().some((l) => l.msg === 'leadership lost; exiting so that a restart starts clean'),
      'and says why',
    );

    // Its last successful renew (or the create that acquired the lease), as the proxy saw it arrive.
    const renewals = proxy.requests.filter(
      (r) =>
        r.client === leader.user.name &&
        (r.method === 'PUT' || r.method === 'POST') &&
        r.path.includes('/leases') &&
        (r.status === 200 || r.status === 201),
    );
    const lastRenew = renewals.at(-1)!.at;
    assert.ok(lastRenew < hungAt + 100, 'no renew got through the partition');
    const late = proxy.writes(leader.user.name, lastRenew + RENEW_DEADLINE_MS);
    assert.deepEqual(
      late.map((w) => `${w.method} ${w.path}`),
      [],
      `term ${change}: no write after the renew deadline`,
    );
    assert.ok(
      proxy.writes(leader.user.name, hungAt).length > 0,
      'the hung leader did try to write before its deadline (the test can fail)',
    );

    await eventually(() => holder().startsWith(`${standby.user.name}_`), 30_000, `term ${change}: the standby to lead`);
    const ledAt = Date.now();
    assert.ok(
      ledAt - lastRenew >= 15_000,
      `the standby led ${ledAt - lastRenew} ms after the last renew, not before the lease expired`,
    );
    await eventually(converged, 20_000, `term ${change}: the pool to converge under the new leader`);
    t.diagnostic(
      `term ${change}: hung ${hungAt - lastRenew} ms after the last renew; exited ${exitedAt - lastRenew} ms after it; ${proxy.writes(leader.user.name, hungAt).length} writes tried (and held) before the deadline, 0 after; the standby led ${ledAt - lastRenew} ms after it`,
    );
    assert.equal(
      await metric(standby, 'reranker_operator_workers'),
      WORKERS,
      `term ${change}: the new leader runs ${WORKERS} workers`,
    );

    // The exited one comes back (as Kubernetes would restart it) as the new standby.
    release();
    const restarted = await startOperator(leader.user);
    await warm(restarted);
    leader = standby;
    standby = restarted;
  }
});
