/** router_settings.redis_*: LiteLLM's names, a clear problem naming the key, never the password. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError } from '../errors.ts';
import { parseConfigText } from './load.ts';

const MODEL = 'model_list:\n  - model_name: a\n    rpm: 60\n    litellm_params: { api_base: "http://a:1" }\n';

function problems(router: string, env: Record<string, string> = {}): readonly string[] {
  try {
    parseConfigText(`${MODEL}router_settings:\n${router}`, 't', env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

test("redis_host, redis_port and redis_password (also os.environ/) name the pool's Redis", () => {
  const config = parseConfigText(
    `${MODEL}router_settings:\n  redis_host: cache\n  redis_port: 6380\n  redis_password: os.environ/REDIS_PASSWORD\n`,
    't',
    { REDIS_PASSWORD: 'pw' },
  );
  assert.deepEqual(
    {
      host: config.redis?.host,
      port: config.redis?.port,
      password: config.redis?.password,
      prefix: config.redis?.keyPrefix,
    },
    { host: 'cache', port: 6380, password: 'pw', prefix: 'reranker-lb' },
  );
  assert.equal(config.backends[0]!.poolLimits.rpm, 60);
});

test('redis_url carries host, port, db and TLS; redis_password wins over its password; display hides it', () => {
  const config = parseConfigText(
    `${MODEL}router_settings:\n  redis_url: "rediss://user:inurl@cache.example:6390/3"\n  redis_password: literal\n`,
    't',
    {},
  );
  assert.deepEqual(
    {
      host: config.redis?.host,
      port: config.redis?.port,
      db: config.redis?.db,
      tls: config.redis?.tls,
      user: config.redis?.username,
      password: config.redis?.password,
      display: config.redis?.display,
    },
    {
      host: 'cache.example',
      port: 6390,
      db: 3,
      tls: true,
      user: 'user',
      password: 'literal',
      display: 'rediss://cache.example:6390/3',
    },
  );
});

test('no Redis: limits split per sidecar, nothing to connect to', () => {
  assert.equal(parseConfigText(MODEL, 't', {}).redis, undefined);
});

test('bad Redis settings are problems naming the key, without the password', () => {
  const cases: [string, Record<string, string>, string][] = [
    [
      '  redis_url: "http://cache:6379"\n',
      {},
      'router_settings.redis_url: expected the redis:// or rediss:// scheme, got http://',
    ],
    [
      '  redis_url: "redis://:hunter2@cache:6379/x"\n',
      {},
      'router_settings.redis_url: the path must be a database number (redis://host:6379/0)',
    ],
    [
      '  redis_url: "not a url :hunter2"\n',
      {},
      'router_settings.redis_url: expected redis://host:port or rediss://host:port',
    ],
    [
      '  redis_host: cache\n  redis_password: os.environ/MISSING\n',
      {},
      'router_settings.redis_password: environment variable MISSING is not set',
    ],
    ['  redis_port: 6379\n', {}, 'router_settings.redis_port: set redis_host or redis_url too'],
    [
      '  redis_host: cache\n  redis_url: "redis://cache:6379"\n',
      {},
      'router_settings.redis_host: set redis_url or redis_host, not both',
    ],
    ['  redis_host: cache\n  redis_key_prefix: "a}b"\n', {}, 'router_settings.redis_key_prefix: no braces or spaces'],
  ];
  for (const [router, env, expected] of cases) {
    const found = problems(router, env);
    assert.deepEqual(found, [expected], router);
    assert.ok(!found.join(' ').includes('hunter2'));
  }
  assert.match(problems('  redis_port: 70000\n  redis_host: cache\n')[0]!, /^router_settings\.redis_port/);
});
