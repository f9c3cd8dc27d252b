import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import { KubeApiError, type KubeApi } from '../../kube/api.ts';
import { CertKeeper, type CertKeeperOptions } from './cert-keeper.ts';
import { issueCa, issueServing } from './issue.ts';
import { encodeSecretData } from './plan.ts';
import { fingerprint, parseBundle, ROTATE_CA_ANNOTATION } from './rotation.ts';
import { ManualTime } from '../../common/manual-time.ts';
import { seededRandom, type Clock } from '../../common/clock.ts';

const NOW = Date.parse('2026-11-27T10:00:00Z');
const SECRET_PATH = '/api/v1/namespaces/sys/secrets/tls';
const HOOK_PATH = '/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/injector';

/**
 * An API server's Secret and webhook configuration in memory, shared by any number of keepers:
 * resourceVersions are checked as the real one does (409 on a stale update or a second create),
 * every caBundle is kept with the time it was written, and each call yields a few microtasks so
 * concurrent passes interleave.
 */
function fakeApi(
  initial: { secret?: Record<string, string>; conflict?: boolean } = {},
  o: { clock?: () => number; yields?: () => number } = {},
) {
  let rv = 1;
  let secret: any =
    initial.secret === undefined
      ? undefined
      : { metadata: { name: 'tls', resourceVersion: String(rv) }, data: initial.secret };
  let caBundle: string | undefined;
  const bundles: { at: number; cas: string[] }[] = [{ at: -Infinity, cas: [] }];
  const writes: string[] = [];
  const pause = async () => {
    for (let i = o.yields?.() ?? 0; i > 0; i--) await Promise.resolve();
  };
  const api = {
    async get(path: string) {
      await pause();
      if (path === SECRET_PATH) return structuredClone(secret);
      if (path === HOOK_PATH) return { webhooks: [{ name: 'inject.reranker.dev', clientConfig: { caBundle } }] };
      throw new Error(`unexpected GET ${path}`);
    },
    async request(method: string, path: string, options: { body?: any }) {
      await pause();
      writes.push(`${method} ${path}`);
      if (method === 'POST' && (initial.conflict || secret !== undefined))
        throw new KubeApiError(409, 'exists', 'AlreadyExists');
      if (method === 'PUT' && options.body.metadata.resourceVersion !== secret?.metadata.resourceVersion)
        throw new KubeApiError(409, 'conflict', 'Conflict');
      if (method === 'POST' || method === 'PUT') {
        secret = structuredClone({
          ...options.body,
          metadata: { ...options.body.metadata, resourceVersion: String(++rv) },
        });
        return structuredClone(secret);
      }
      if (method === 'PATCH') {
        caBundle = options.body.webhooks[0].clientConfig.caBundle;
        bundles.push({ at: o.clock?.() ?? 0, cas: parseBundle(caBundle).map(fingerprint) });
      }
      return {};
    },
  };
  /** The CAs an API server trusted at `at` (its informer may lag behind the last write). */
  const trustedAt = (at: number) => bundles.findLast((b) => b.at <= at)!.cas;
  return {
    api: api as unknown as KubeApi,
    writes,
    caBundle: () => caBundle,
    secret: () => secret,
    trustedAt,
    deleteSecret: () => (secret = undefined),
    annotate: (k: string, v: string) => (secret.metadata.annotations = { ...secret.metadata.annotations, [k]: v }),
  };
}

function keeper(
  api: KubeApi,
  mode: 'self' | 'cert-manager',
  served: string[],
  o: { clock?: Clock; identity?: string; checkMs?: number; recordCa?: boolean } = {},
): CertKeeper {
  const options: CertKeeperOptions = {
    api,
    logger: pino({ level: 'silent' }),
    clock: o.clock ?? { now: () => 0, wallNow: () => NOW },
    timers: { setTimeout: () => 0, clearTimeout: () => {} },
    mode,
    namespace: 'sys',
    secretName: 'tls',
    webhookConfigName: 'injector',
    names: ['svc.sys.svc'],
    url: undefined,
    checkMs: o.checkMs ?? 60_000,
    identity: o.identity ?? 'operator-0_abcd',
    onCertificate: (c) => served.push(o.recordCa ? c.caCert : c.cert),
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

test("self mode: a lost create race (409) serves nothing yet; the next pass reads the winner's Secret", async () => {
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

/**
 * Replicas sync every second at their own phase, concurrently, in a seeded random interleaving;
 * the API servers' view of the caBundle lags up to LAG_MS. After every step, each replica must serve
 * from a CA that the bundle held both now and LAG_MS ago: otherwise an admission call would fail.
 */
async function simulateRotation(seed: number, o: { replicas: number; kill?: number; rotate: 'annotation' | 'delete' }) {
  const time = new ManualTime(0, NOW);
  const random = seededRandom(seed);
  const fake = fakeApi({}, { clock: () => time.wallNow(), yields: () => Math.floor(random() * 6) });
  const CHECK = 1_000;
  const LAG_MS = 500;
  const served: string[][] = Array.from({ length: o.replicas }, () => []);
  const keepers = served.map((s, i) =>
    keeper(fake.api, 'self', s, { clock: time, identity: `operator-${i}_${seed}`, checkMs: CHECK, recordCa: true }),
  );
  const phase = keepers.map(() => 100 * Math.floor(random() * 10));
  const alive = keepers.map(() => true);
  const violations: string[] = [];
  let checking = false; // from the first start, where nothing is trusted yet, on
  const step = async (ms: number) => {
    for (let t = 0; t < ms; t += 100) {
      time.advance(100);
      const now = time.now();
      const due = keepers.filter((_, i) => alive[i] && (now - phase[i]!) % CHECK === 0);
      await Promise.all(due.map((k) => k.sync()));
      served.forEach((s, i) => {
        if (!checking || !alive[i] || s.length === 0) return;
        const ca = fingerprint(s.at(-1)!);
        for (const at of [time.wallNow(), time.wallNow() - LAG_MS])
          if (!fake.trustedAt(at).includes(ca))
            violations.push(
              `replica ${i} at ${now}: serves ${ca.slice(0, 8)}, bundle ${fake.trustedAt(at).map((c) => c.slice(0, 8))}`,
            );
      });
    }
  };
  await step(3_000);
  checking = true;
  const before = fingerprint(served[0]!.at(-1)!);
  if (o.rotate === 'annotation') fake.annotate(ROTATE_CA_ANNOTATION, 'now');
  else fake.deleteSecret();
  if (o.kill !== undefined) alive[o.kill] = false; // a replica that dies during the rotation: its report goes stale
  await step(30_000);
  return { fake, served, before, violations, alive };
}

for (const rotate of ['annotation', 'delete'] as const) {
  test(`CA rotation (${rotate}), 2 or 3 replicas, 4 interleavings: every replica always serves from a trusted CA; the old CA leaves the bundle`, async () => {
    for (let seed = 1; seed <= 4; seed++) {
      const { fake, served, before, violations } = await simulateRotation(seed, { replicas: 2 + (seed % 2), rotate });
      assert.deepEqual(violations, [], `seed ${seed}`);
      const after = fingerprint(
        fake.secret().data['ca.crt'] && Buffer.from(fake.secret().data['ca.crt'], 'base64').toString(),
      );
      assert.notEqual(after, before, `seed ${seed}: a new CA`);
      assert.ok(
        served.every((s) => fingerprint(s.at(-1)!) === after),
        `seed ${seed}: every replica serves from the new CA`,
      );
      assert.deepEqual(fake.trustedAt(Infinity), [after], `seed ${seed}: the old CA is gone from the bundle`);
      assert.equal(fake.secret().metadata.annotations?.[ROTATE_CA_ANNOTATION], undefined, 'the request is answered');
    }
  });
}

test('a replica that dies during a rotation does not hold the old CA in the bundle forever', async () => {
  const { fake, served, violations } = await simulateRotation(7, { replicas: 2, kill: 1, rotate: 'annotation' });
  assert.deepEqual(violations, []);
  assert.equal(fake.trustedAt(Infinity).length, 1);
  assert.equal(fake.trustedAt(Infinity)[0], fingerprint(served[0]!.at(-1)!));
});
