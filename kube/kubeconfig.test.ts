import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { loadKubeConnection } from './kubeconfig.ts';

const dir = mkdtempSync(join(tmpdir(), 'kubeconfig-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, doc: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, JSON.stringify(doc));
  return path;
}

const config = (user: Record<string, unknown>, current = 'ctx') => ({
  clusters: [{ name: 'c', cluster: { server: 'https://127.0.0.1:6443/', 'insecure-skip-tls-verify': true } }],
  users: [{ name: 'u', user }],
  contexts: [{ name: 'ctx', context: { cluster: 'c', user: 'u' } }],
  'current-context': current,
});

test('a token kubeconfig: server without trailing slash, bearer header', () => {
  const c = loadKubeConnection({ KUBECONFIG: file('token.json', config({ token: 't0k' })) });
  assert.equal(c.server, 'https://127.0.0.1:6443');
  assert.equal(c.authorization(), 'Bearer t0k');
});

test('a token file relative to the kubeconfig; basic auth', () => {
  writeFileSync(join(dir, 'token.txt'), 'from-file\n');
  assert.equal(
    loadKubeConnection({ KUBECONFIG: file('tf.json', config({ tokenFile: 'token.txt' })) }).authorization(),
    'Bearer from-file',
  );
  assert.equal(
    loadKubeConnection({ KUBECONFIG: file('basic.json', config({ username: 'a', password: 'b' })) }).authorization(),
    `Basic ${Buffer.from('a:b').toString('base64')}`,
  );
});

test('KUBECONFIG lists are merged, the first file winning; missing files are skipped', () => {
  const first = file('first.json', { 'current-context': 'ctx', users: [{ name: 'u', user: { token: 'first' } }] });
  const second = file('second.json', config({ token: 'second' }, 'other'));
  const c = loadKubeConnection({ KUBECONFIG: `${join(dir, 'absent')}:${first}:${second}` });
  assert.equal(c.authorization(), 'Bearer first');
});

test('legacy auth providers are refused with a clear message; an unknown context is named', () => {
  assert.throws(
    () => loadKubeConnection({ KUBECONFIG: file('ap.json', config({ 'auth-provider': { name: 'gcp' } })) }),
    /legacy auth provider, which is not supported; use its exec plugin/,
  );
  assert.throws(
    () => loadKubeConnection({ KUBECONFIG: file('ctx.json', config({ token: 'x' }, 'nope')) }),
    /current-context "nope" not found/,
  );
});
