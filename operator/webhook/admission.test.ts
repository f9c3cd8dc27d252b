import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import pino from 'pino';
import { Registry } from 'prom-client';
import { Agent, request } from 'undici';
import type { RerankerPool } from '../crd/pool-schema.ts';
import { issueCa, issueServing } from '../certs/issue.ts';
import { admit, type AdmissionDeps, type AdmissionRequest, type InvolvedObject } from './admission.ts';
import { WebhookServer, WEBHOOK_PATH } from './server.ts';

const POOL: RerankerPool = {
  metadata: { name: 'search', namespace: 'app' },
  spec: { routing: {}, backends: [], discovery: [], sidecarPort: 8000 } as unknown as RerankerPool['spec'],
};
const RS = { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'search-api-7d9f', uid: 'rs-1', controller: true };

function deps(pools: Record<string, RerankerPool | Error>, events: [InvolvedObject, string][]): AdmissionDeps {
  return {
    settings: { image: 'r/sidecar:1', version: '1', imagePullPolicy: 'IfNotPresent', logLevel: 'info', resources: {} },
    logger: pino({ level: 'silent' }),
    getPool: async (_ns, name) => {
      const p = pools[name];
      if (p instanceof Error) throw p;
      return p;
    },
    event: async (involved, reason) => void events.push([involved, reason]),
  };
}

function review(labels: Record<string, string>, over: Partial<AdmissionRequest> = {}): AdmissionRequest {
  return {
    uid: 'u1',
    kind: { kind: 'Pod' },
    operation: 'CREATE',
    namespace: 'app',
    object: {
      metadata: { generateName: 'search-api-7d9f-', labels, ownerReferences: [RS] },
      spec: { containers: [{ name: 'app' }] },
    },
    ...over,
  };
}

describe('admit', () => {
  test('inject: allowed with a base64 JSONPatch and no Event', async () => {
    const events: [InvolvedObject, string][] = [];
    const { response, outcome } = await admit(
      review({ 'reranker.dev/pool': 'search' }),
      deps({ search: POOL }, events),
    );
    assert.equal(outcome, 'injected');
    assert.equal(response.patchType, 'JSONPatch');
    const patch = JSON.parse(Buffer.from(response.patch!, 'base64').toString());
    assert.equal(patch[0].value[0].name, 'reranker-lb');
    assert.deepEqual(events, []);
  });

  test("a missing pool: allowed unchanged, warning, Event on the pod's ReplicaSet; none on a dry run", async () => {
    const events: [InvolvedObject, string][] = [];
    const { response } = await admit(review({ 'reranker.dev/pool': 'gone' }), deps({}, events));
    assert.equal(response.patch, undefined);
    assert.match(response.warnings![0]!, /RerankerPool "gone" not found/);
    assert.deepEqual(events, [
      [
        { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'search-api-7d9f', namespace: 'app', uid: 'rs-1' },
        'InjectionPoolNotFound',
      ],
    ]);
    await admit(review({ 'reranker.dev/pool': 'gone' }, { dryRun: true }), deps({}, events));
    assert.equal(events.length, 1);
  });

  test('the pool cannot be read: allowed unchanged with a warning (outcome error)', async () => {
    const { response, outcome } = await admit(
      review({ 'reranker.dev/pool': 'search' }),
      deps({ search: new Error('timeout') }, []),
    );
    assert.equal(outcome, 'error');
    assert.equal(response.allowed, true);
    assert.match(response.warnings![0]!, /could not read RerankerPool "search"/);
  });

  test('anything but a pod CREATE passes untouched', async () => {
    const { response } = await admit(
      review({ 'reranker.dev/pool': 'search' }, { operation: 'UPDATE' }),
      deps({ search: POOL }, []),
    );
    assert.deepEqual(response, { uid: 'u1', allowed: true });
  });
});

describe('WebhookServer', () => {
  test('HTTPS: answers an AdmissionReview, 404 elsewhere, 400 on garbage, 413 over 4 MiB; counts outcomes', async () => {
    const now = Date.now();
    const ca = issueCa('test', { now, days: 1 });
    const cert = issueServing(ca, ['127.0.0.1'], { now, days: 1 });
    const registry = new Registry();
    const server = new WebhookServer(deps({ search: POOL }, []), registry);
    server.useCertificate(cert, 0, '127.0.0.1');
    const agent = new Agent({ connect: { ca: ca.caCert } });
    try {
      while (!server.listening) await new Promise((r) => setTimeout(r, 5));
      const base = `https://127.0.0.1:${server.port}`;
      const post = (path: string, body: string) =>
        request(`${base}${path}`, {
          method: 'POST',
          body,
          dispatcher: agent,
          headers: { 'content-type': 'application/json' },
        });
      const ok = await post(
        WEBHOOK_PATH,
        JSON.stringify({
          apiVersion: 'admission.k8s.io/v1',
          kind: 'AdmissionReview',
          request: review({ 'reranker.dev/pool': 'search' }),
        }),
      );
      const body = (await ok.body.json()) as any;
      assert.equal(ok.statusCode, 200);
      assert.deepEqual(
        [body.kind, body.response.uid, body.response.allowed, body.response.patchType],
        ['AdmissionReview', 'u1', true, 'JSONPatch'],
      );
      assert.equal((await post('/other', '{}')).statusCode, 404);
      assert.equal((await post(WEBHOOK_PATH, 'not json')).statusCode, 400);
      assert.equal((await post(WEBHOOK_PATH, '{}')).statusCode, 400);
      const big = await post(WEBHOOK_PATH, 'x'.repeat(4 * 1024 * 1024 + 1)).catch((e: Error) => e);
      assert.ok(big instanceof Error || big.statusCode === 413, 'over the limit: refused');
      const metrics = await registry.metrics();
      assert.match(metrics, /reranker_operator_webhook_requests_total\{outcome="injected"\} 1/);
      assert.match(metrics, /reranker_operator_webhook_requests_total\{outcome="invalid"\} [34]/);
    } finally {
      await agent.close();
      server.close();
    }
  });
});
