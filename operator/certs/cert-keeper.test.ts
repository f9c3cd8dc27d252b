import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import { KubeApiError, type KubeApi } from '../../kube/api.ts';
import { CertKeeper, type CertKeeperOptions } from './cert-keeper.ts';
import { issueCa, issueServing } from './issue.ts';
import { encodeSecretData } from './plan.ts';

const NOW = Date.parse('2026-11-27T10:00:00Z');
const SECRET_PATH = '/api/v1/namespaces/sys/secrets/tls';
const HOOK_PATH = '/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/injector';

/** An API with a Secret store and one webhook configuration; records every write. */
function fakeApi(initial: { secret?: Record<string, string>; conflict?: boolean } = {}) {
  let secret = initial.secret === undefined ? undefined : { metadata: { name: 'tls', resourceVersion: '1' }, data: initial.secret };
  let caBundle: string | undefined;
  const writes: string[] = [];
  const api = {
    async get(path: string) {
      if (path === SECRET_PATH) return secret;
      if (path === HOOK_PATH) return { webhooks: [{ name: 'inject.reranker.dev', clientConfig: { caBundle } }] };
      throw new Error(`unexpected GET ${path}`);
    },
    async request(method: string, path: string, options: { body?: any }) {
      writes.push(`${method} ${path}`);
      if (method === 'POST' && initial.conflict) throw new KubeApiError(409, 'exists', 'AlreadyExists');
      if (method === 'POST' || method === 'PUT') secret = { metadata: { name: 'tls', resourceVersion: '2' }, data: options.body.data };
      if (method === 'PATCH') caBundle = options.body.webhooks[0].clientConfig.caBundle;
      return {};
    },
  };
  return { api: api as unknown as KubeApi, writes, caBundle: () => caBundle, secret: () => secret };
}

function keeper(api: KubeApi, mode: 'self' | 'cert-manager', served: string[]): CertKeeper {
  const options: CertKeeperOptions = {
    api,
    logger: pino({ level: 'silent' }),
    clock: { now: () => 0, wallNow: () => NOW },
    timers: { setTimeout: () => 0, clearTimeout: () => {} },
    mode,
    namespace: 'sys',
    secretName: 'tls',
    webhookConfigName: 'injector',
    names: ['svc.sys.svc'],
    url: undefined,
    checkMs: 60_000,
    onCertificate: (c) => served.push(c.cert),
  };
  return new CertKeeper(options);
}

test('self mode: creates the Secret and sets the caBundle once; the next pass writes nothing', async () => {
  const fake = fakeApi();
  const served: string[] = [];
  const k = keeper(fake.api, 'self', served);
  await k.sync();
  assert.deepEqual(fake.writes, [`POST /api/v1/namespaces/sys/secrets`, `PATCH ${HOOK_PATH}`]);
  assert.equal(fake.caBundle(), fake.secret()!.data['ca.crt']);
  assert.equal(served.length, 1);
  await k.sync();
  assert.equal(fake.writes.length, 2, 'nothing to do');
  assert.equal(served.length, 1, 'the same certificate is not reloaded');
});

test('self mode: a lost create race (409) serves nothing yet; the next pass reads the winner\'s Secret', async () => {
  const fake = fakeApi({ conflict: true });
  const served: string[] = [];
  assert.equal(await keeper(fake.api, 'self', served).sync(), undefined);
  assert.deepEqual(served, []);
});

test('cert-manager mode: serves the Secret cert-manager wrote (even without ca.crt) and writes nothing', async () => {
  const set = issueServing(issueCa('cm', { now: NOW, days: 90 }), ['svc.sys.svc'], { now: NOW, days: 90 });
  const { 'ca.crt': _ca, 'ca.key': _key, ...data } = encodeSecretData(set);
  const fake = fakeApi({ secret: data });
  const served: string[] = [];
  await keeper(fake.api, 'cert-manager', served).sync();
  assert.deepEqual(served, [set.cert]);
  assert.deepEqual(fake.writes, []);
});

test('cert-manager mode: no Secret yet, nothing served and nothing written', async () => {
  const fake = fakeApi();
  const served: string[] = [];
  assert.equal(await keeper(fake.api, 'cert-manager', served).sync(), undefined);
  assert.deepEqual([served, fake.writes], [[], []]);
});
