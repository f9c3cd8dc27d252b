import assert from 'node:assert/strict';
import { test } from 'node:test';
import { applyProxyBypass, mergeNoProxy, NO_PROXY_ENTRIES } from './no-proxy.ts';

test('adds every bypass entry once, keeping what was there first', () => {
  assert.equal(
    mergeNoProxy('corp.example, localhost'),
    ['corp.example', 'localhost', ...NO_PROXY_ENTRIES.filter((e) => e !== 'localhost')].join(','),
  );
  assert.equal(mergeNoProxy(undefined), NO_PROXY_ENTRIES.join(','));
});

test('NO_PROXY and no_proxy end up equal and hold both original lists', () => {
  const env: NodeJS.ProcessEnv = { NO_PROXY: 'a.example', no_proxy: 'b.example,a.example' };
  applyProxyBypass(env);
  assert.equal(env.NO_PROXY, env.no_proxy);
  const entries = env.NO_PROXY!.split(',');
  for (const want of ['a.example', 'b.example', '.svc', '.cluster.local', '::1', '.internal'])
    assert.ok(entries.includes(want), want);
  assert.equal(new Set(entries).size, entries.length);
});
