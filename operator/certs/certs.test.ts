import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { createServer } from 'node:https';
import { once } from 'node:events';
import { test } from 'node:test';
import { request } from 'undici';
import { Agent } from 'undici';
import { issueCa, issueServing } from './issue.ts';
import { decodeSecretData, encodeSecretData, planCertificates } from './plan.ts';

const DAY = 86_400_000;
const NOW = Date.parse('2026-11-27T10:00:00Z');
const NAMES = ['rrlb-webhook.rrlb-system.svc', '127.0.0.1'];
const ca = issueCa('reranker-lb-webhook-ca', { now: NOW, days: 3650 });
const set = issueServing(ca, NAMES, { now: NOW, days: 365 });

test('the serving certificate is signed by the CA and names every DNS name and IP', () => {
  const caCert = new X509Certificate(set.caCert);
  const leaf = new X509Certificate(set.cert);
  assert.ok(caCert.ca);
  assert.ok(!leaf.ca);
  assert.ok(leaf.verify(caCert.publicKey));
  assert.ok(leaf.checkHost('rrlb-webhook.rrlb-system.svc'));
  assert.ok(leaf.checkIP('127.0.0.1'));
  assert.equal(leaf.checkHost('other.rrlb-system.svc'), undefined);
});

test('a TLS client that trusts only the CA accepts the serving certificate', async () => {
  const server = createServer({ cert: set.cert, key: set.key }, (_req, res) => res.end('ok'));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  const agent = new Agent({ connect: { ca: set.caCert } });
  try {
    const res = await request(`https://127.0.0.1:${port}/`, { dispatcher: agent });
    assert.equal(await res.body.text(), 'ok');
  } finally {
    await agent.close();
    server.close();
  }
});

const stored = decodeSecretData(encodeSecretData(set))!;
const other = issueCa('another-ca', { now: NOW, days: 3650 });

const cases: {
  name: string;
  stored: Parameters<typeof planCertificates>[0];
  names?: string[];
  now: number;
  want: string;
}[] = [
  { name: 'nothing stored', stored: undefined, now: NOW, want: 'issue-ca' },
  { name: 'fresh', stored, now: NOW + DAY, want: 'keep' },
  { name: 'serving certificate at two thirds of its life', stored, now: NOW + 245 * DAY, want: 'issue-serving' },
  { name: 'CA at two thirds of its life', stored, now: NOW + 2440 * DAY, want: 'issue-ca' },
  {
    name: 'a new name wanted (the URL host changed)',
    stored,
    names: [...NAMES, '198.18.43.1'],
    now: NOW,
    want: 'issue-serving',
  },
  { name: 'CA key missing', stored: { ...stored, caKey: undefined }, now: NOW, want: 'issue-ca' },
  { name: 'CA key of another CA', stored: { ...stored, caKey: other.caKey }, now: NOW, want: 'issue-ca' },
  {
    name: 'serving certificate from another CA',
    stored: { ...stored, caCert: other.caCert, caKey: other.caKey },
    now: NOW,
    want: 'issue-serving',
  },
  { name: 'garbage', stored: { ...stored, cert: 'not a pem' }, now: NOW, want: 'issue-ca' },
];

test('plan: a new CA on request (the rotate-ca annotation), even when everything is fresh', () => {
  assert.equal(planCertificates(stored, NAMES, NOW + DAY).action, 'keep');
  assert.deepEqual(planCertificates(stored, NAMES, NOW + DAY, true), {
    action: 'issue-ca',
    reason: 'a new CA was requested',
  });
});

for (const c of cases) {
  test(`plan: ${c.name} -> ${c.want}`, () => {
    assert.equal(planCertificates(c.stored, c.names ?? NAMES, c.now).action, c.want);
  });
}

test('decodeSecretData: a Secret without the certificate and key is "nothing stored"; one without ca.crt (cert-manager) still serves', () => {
  assert.equal(decodeSecretData(undefined), undefined);
  assert.equal(decodeSecretData({ 'tls.crt': '' }), undefined);
  const { 'ca.crt': _ca, 'ca.key': _key, ...servingOnly } = encodeSecretData(set);
  const decoded = decodeSecretData(servingOnly)!;
  assert.equal(decoded.cert, set.cert);
  assert.equal(
    planCertificates(decoded, NAMES, NOW).action,
    'issue-ca',
    'in self mode, without its CA the operator starts over',
  );
});
