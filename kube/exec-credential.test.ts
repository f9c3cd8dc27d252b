/**
 * Exec-plugin kubeconfigs with a tiny shell plugin: the token is cached until its expiry and the
 * plugin runs again after it or after a 401; the plugin gets its args, env and
 * KUBERNETES_EXEC_INFO; v1beta1 works; a client certificate replaces the dispatcher; a missing
 * command names the install hint; bad output is described, never quoted (it holds the secret).
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { KubeApi } from './api.ts';
import { ExecCredentialError } from './exec-credential.ts';
import { loadKubeConnection } from './kubeconfig.ts';

const dir = mkdtempSync(join(tmpdir(), 'exec-plugin-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/**
 * The plugin: counts its runs in runs.log, saves KUBERNETES_EXEC_INFO, its args and $PLUGIN_ENV,
 * and prints an ExecCredential with token "secret-<run>" (or what $PLUGIN_OUTPUT says).
 */
const PLUGIN = join(dir, 'plugin.sh');
writeFileSync(
  PLUGIN,
  `#!/bin/sh
echo run >> "${dir}/runs.log"
printf '%s' "$KUBERNETES_EXEC_INFO" > "${dir}/info.json"
printf '%s|%s' "$*" "$PLUGIN_ENV" > "${dir}/args.txt"
n=$(wc -l < "${dir}/runs.log" | tr -d ' ')
if [ -n "$PLUGIN_OUTPUT" ]; then printf '%s' "$PLUGIN_OUTPUT"; exit 0; fi
printf '{"apiVersion":"%s","kind":"ExecCredential","status":{"token":"secret-%s","expirationTimestamp":"%s"}}' "$API_VERSION" "$n" "$EXPIRES"
`,
);
chmodSync(PLUGIN, 0o755);

let seq = 0;
function kubeconfig(exec: Record<string, unknown>): string {
  const path = join(dir, `kubeconfig-${++seq}.json`);
  writeFileSync(
    path,
    JSON.stringify({
      clusters: [
        {
          name: 'c',
          cluster: {
            server: 'http://127.0.0.1:1',
            'certificate-authority-data': Buffer.from('not a real CA').toString('base64'),
          },
        },
      ],
      users: [
        {
          name: 'u',
          user: {
            exec: { apiVersion: 'client.authentication.k8s.io/v1', command: PLUGIN, interactiveMode: 'Never', ...exec },
          },
        },
      ],
      contexts: [{ name: 'ctx', context: { cluster: 'c', user: 'u' } }],
      'current-context': 'ctx',
    }),
  );
  return path;
}

function runs(): number {
  return existsSync(join(dir, 'runs.log')) ? readFileSync(join(dir, 'runs.log'), 'utf8').trim().split('\n').length : 0;
}

const env = (extra: Record<string, string> = {}) => ({
  PATH: process.env.PATH,
  API_VERSION: 'client.authentication.k8s.io/v1',
  EXPIRES: '2026-01-01T00:10:00Z',
  ...extra,
});

test('a token is cached until its expirationTimestamp, then the plugin runs again; args, env and KUBERNETES_EXEC_INFO reach it', async () => {
  rmSync(join(dir, 'runs.log'), { force: true });
  let now = Date.parse('2026-01-01T00:00:00Z');
  const path = kubeconfig({
    args: ['--cluster', 'prod'],
    env: [{ name: 'PLUGIN_ENV', value: 'from-kubeconfig' }],
    provideClusterInfo: true,
  });
  const c = loadKubeConnection({ KUBECONFIG: path, ...env() }, { wallNow: () => now });
  assert.equal(await c.authorization(), 'Bearer secret-1');
  now += 9 * 60_000;
  assert.equal(await c.authorization(), 'Bearer secret-1', 'cached before expiry');
  assert.equal(runs(), 1);
  now += 61_000;
  assert.equal(await c.authorization(), 'Bearer secret-2', 'run again after expiry');
  assert.equal(readFileSync(join(dir, 'args.txt'), 'utf8'), '--cluster prod|from-kubeconfig');
  const info = JSON.parse(readFileSync(join(dir, 'info.json'), 'utf8'));
  assert.deepEqual(
    [info.apiVersion, info.kind, info.spec.interactive, info.spec.cluster.server],
    ['client.authentication.k8s.io/v1', 'ExecCredential', false, 'http://127.0.0.1:1'],
  );
  assert.equal(info.spec.cluster['certificate-authority-data'], Buffer.from('not a real CA').toString('base64'));
});

test('concurrent callers share one run; a 401 runs the plugin again and the request is retried once', async () => {
  rmSync(join(dir, 'runs.log'), { force: true });
  const seen: string[] = [];
  const server = createServer((req, res) => {
    seen.push(req.headers.authorization ?? '');
    if (req.headers.authorization === 'Bearer secret-1')
      res
        .writeHead(401, { 'content-type': 'application/json' })
        .end('{"kind":"Status","reason":"Unauthorized","message":"Unauthorized"}');
    else res.writeHead(200, { 'content-type': 'application/json' }).end('{"metadata":{"name":"x"}}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const c = loadKubeConnection({ KUBECONFIG: kubeconfig({}), ...env({ EXPIRES: '2999-01-01T00:00:00Z' }) });
    await Promise.all([c.authorization(), c.authorization(), c.authorization()]);
    assert.equal(runs(), 1);
    const api = new KubeApi({
      ...c,
      server: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
      authorization: () => c.authorization(),
      refresh: () => c.refresh!(),
      dispatcher: c.dispatcher,
    });
    assert.equal(
      (await api.get<{ metadata: { name: string } }>('/api/v1/namespaces/a/configmaps/x'))?.metadata.name,
      'x',
    );
    assert.deepEqual(seen, ['Bearer secret-1', 'Bearer secret-2']);
    assert.equal(runs(), 2);
  } finally {
    await new Promise((r) => server.close(r));
  }
});

test('v1beta1 works; a client certificate from the plugin gives a new dispatcher and no Authorization header', async () => {
  const beta = loadKubeConnection({
    KUBECONFIG: kubeconfig({ apiVersion: 'client.authentication.k8s.io/v1beta1' }),
    ...env({ API_VERSION: 'client.authentication.k8s.io/v1beta1' }),
  });
  assert.match((await beta.authorization()) ?? '', /^Bearer secret-/);
  const certOutput = JSON.stringify({
    apiVersion: 'client.authentication.k8s.io/v1',
    kind: 'ExecCredential',
    status: {
      clientCertificateData: '-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n',
      clientKeyData: '-----BEGIN PRIVATE KEY-----\ny\n-----END PRIVATE KEY-----\n',
    },
  });
  const c = loadKubeConnection({ KUBECONFIG: kubeconfig({}), ...env({ PLUGIN_OUTPUT: certOutput }) });
  const before = c.dispatcher;
  assert.equal(await c.authorization(), undefined);
  assert.notEqual(c.dispatcher, before);
});

test('errors: a missing command names the install hint; bad output is described, never quoted; the wrong apiVersion is named', async () => {
  const missing = loadKubeConnection({
    KUBECONFIG: kubeconfig({
      command: 'no-such-plugin-xyz',
      installHint: 'Install it with: brew install no-such-plugin',
    }),
    ...env(),
  });
  await assert.rejects(
    Promise.resolve(missing.authorization()),
    /exec plugin "no-such-plugin-xyz" \(user "u"\) not found; Install it with: brew install no-such-plugin/,
  );
  const garbage = loadKubeConnection({ KUBECONFIG: kubeconfig({}), ...env({ PLUGIN_OUTPUT: 'token=hunter2-secret' }) });
  await assert.rejects(
    Promise.resolve(garbage.authorization()),
    (e: Error) =>
      e instanceof ExecCredentialError &&
      /printed no ExecCredential JSON \(20 bytes\)/.test(e.message) &&
      !e.message.includes('hunter2'),
  );
  const wrong = loadKubeConnection({
    KUBECONFIG: kubeconfig({}),
    ...env({ API_VERSION: 'client.authentication.k8s.io/v1beta1' }),
  });
  await assert.rejects(
    Promise.resolve(wrong.authorization()),
    /apiVersion "client.authentication.k8s.io\/v1beta1", want ExecCredential client.authentication.k8s.io\/v1/,
  );
  assert.throws(
    () => loadKubeConnection({ KUBECONFIG: kubeconfig({ apiVersion: 'client.authentication.k8s.io/v1alpha1' }) }),
    /exec.apiVersion "client.authentication.k8s.io\/v1alpha1" is not supported/,
  );
});
