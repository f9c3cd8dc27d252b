/** spec.redis: rendered with LiteLLM's names, the password as a reference only, the sidecar given the Secret. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfigText } from '../../sidecar/config/load.ts';
import { poolSpecSchema, type RerankerPool } from '../crd/pool-schema.ts';
import { readTuning, sidecarContainer, type SidecarSettings } from '../webhook/sidecar-container.ts';
import { renderConfig } from './render-config.ts';
import { secretEnvConflicts } from './secret-env.ts';

function pool(spec: unknown): RerankerPool {
  return { metadata: { name: 'search', namespace: 'prod', generation: 1 }, spec: poolSpecSchema.parse(spec) };
}

const SETTINGS: SidecarSettings = {
  image: 'ghcr.io/reranker-lb/sidecar:0.2.0',
  version: '0.2.0',
  imagePullPolicy: 'IfNotPresent',
  logLevel: 'info',
  resources: {},
};

/** The Secret-backed env of the sidecar injected for `p`. */
function keyEnv(p: RerankerPool): unknown[] {
  const container = sidecarContainer(p, SETTINGS, readTuning(undefined, SETTINGS, 8000).tuning) as {
    env: { name: string }[];
  };
  return container.env.filter((e) => e.name.startsWith('RERANKER_KEY_'));
}

const backends = [{ name: 'tei', apiBase: 'http://tei:8080', rpm: 120 }];

test('spec.redis renders redis_url, a key prefix naming the pool, and the password as os.environ/ of the Secret', () => {
  const p = pool({
    backends,
    redis: { address: 'redis.cache:6379', passwordSecretRef: { name: 'redis-auth', key: 'password' } },
  });
  const { text } = renderConfig(p, []);
  assert.match(text, /redis_url: redis:\/\/redis\.cache:6379/);
  assert.match(text, /redis_key_prefix: prod\/search/);
  assert.match(text, /redis_password: os\.environ\/RERANKER_KEY_REDIS_AUTH__PASSWORD/);
  // The sidecar reads it, with the password from its environment.
  const config = parseConfigText(text, 't', { RERANKER_KEY_REDIS_AUTH__PASSWORD: 's3cret' });
  assert.equal(config.redis?.password, 's3cret');
  assert.equal(config.redis?.display, 'redis://redis.cache:6379/0');
  assert.equal(config.redis?.keyPrefix, 'prod/search');
  // The injected sidecar gets the variable from the Secret (required: no config loads without it).
  assert.deepEqual(keyEnv(p), [
    {
      name: 'RERANKER_KEY_REDIS_AUTH__PASSWORD',
      valueFrom: { secretKeyRef: { name: 'redis-auth', key: 'password', optional: false } },
    },
  ]);
});

test('a rediss:// address is kept; no redis: nothing about Redis is rendered', () => {
  assert.match(
    renderConfig(pool({ backends, redis: { address: 'rediss://r.example:6380/2' } }), []).text,
    /redis_url: rediss:\/\/r\.example:6380\/2/,
  );
  assert.doesNotMatch(renderConfig(pool({ backends }), []).text, /redis/);
});

test('an address with credentials is refused by the schema, naming the field', () => {
  const parsed = poolSpecSchema.safeParse({ backends, redis: { address: 'redis://:pw@redis:6379' } });
  assert.equal(parsed.success, false);
  assert.deepEqual(parsed.error!.issues[0]!.path, ['redis', 'address']);
});

test('a Redis Secret whose variable name collides with an API key Secret is named', () => {
  const spec = poolSpecSchema.parse({
    backends: [{ ...backends[0], apiKeySecretRef: { name: 'redis.auth', key: 'password' } }],
    redis: { address: 'r:6379', passwordSecretRef: { name: 'redis-auth', key: 'password' } },
  });
  assert.deepEqual(secretEnvConflicts(spec), [
    "redis.passwordSecretRef: redis-auth/password and backends[0]'s redis.auth/password both map to the variable RERANKER_KEY_REDIS_AUTH__PASSWORD; rename one Secret or key",
  ]);
});
