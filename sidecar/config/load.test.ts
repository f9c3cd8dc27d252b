import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createServer } from 'node:http';
import { describe, test } from 'node:test';
import { serverOptions } from '../server/client-limits.ts';
import { ConfigError } from '../errors.ts';
import { findConfigPath, loadConfigFile, parseConfigText } from './load.ts';
import { DEFAULT_LOCAL_BACKEND_URL } from '../../common/settings/environment.ts';

const seedExample = readFileSync(fileURLToPath(new URL('../../examples/seed-config.yaml', import.meta.url)), 'utf8');

function problemsOf(text: string, env: Record<string, string> = {}): readonly string[] {
  try {
    parseConfigText(text, 'test.yaml', env);
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return error.problems;
  }
  assert.fail('expected the config to be refused');
}

describe('config loading', () => {
  test("the seed guide's example loads unchanged, with the seed's meaning", () => {
    const config = parseConfigText(seedExample, 'seed.yaml', {});
    assert.equal(config.backends.length, 2);
    const [primary, backup] = config.backends;
    assert.equal(primary!.name, 'primary-reranker');
    assert.equal(primary!.apiBase, 'http://server1:8000');
    assert.equal(primary!.apiKey, 'optional-key');
    assert.equal(primary!.apiFormat, 'native');
    assert.equal(primary!.weight, 2);
    assert.equal(backup!.priority, 1);
    assert.equal(config.router.strategy, 'weighted-random');
    assert.equal(config.router.numRetries, 3);
    assert.equal(config.router.retryDelayMs, 1000);
    assert.equal(config.router.fallbackToLocal, true);
    assert.equal(config.router.healthCheck.intervalMs, 60_000);
    assert.deepEqual([...config.router.retryOnStatus], [429, 500, 502, 503, 504]);
    assert.deepEqual(config.warnings, []);
  });

  test('wrong types are refused with the path and the expectation', () => {
    const problems = problemsOf(`
model_list:
  - model_name: a
    litellm_params: { api_base: "http://a:1" }
  - model_name: b
    litellm_params: { api_base: "http://b:1" }
    weight: -1
router_settings:
  routing_strategy: fastest
  num_retries: "three"
`);
    assert.ok(problems.includes('model_list[1].weight: expected number >= 0, got -1'), problems.join('\n'));
    assert.ok(
      problems.some((p) => p.startsWith('router_settings.routing_strategy: expected one of weighted-random')),
      problems.join('\n'),
    );
    assert.ok(problems.includes('router_settings.num_retries: expected number, got "three"'), problems.join('\n'));
  });

  test('a missing api_base, a bad URL and a duplicate backend are named', () => {
    assert.deepEqual(problemsOf('model_list:\n  - model_name: a\n    litellm_params: {}\n'), [
      'model_list[0].litellm_params.api_base: expected api_base (or base_url)',
    ]);
    assert.deepEqual(problemsOf('model_list:\n  - model_name: a\n    litellm_params: { api_base: "ftp://x" }\n'), [
      'model_list[0].litellm_params.api_base: expected an http(s) URL, got "ftp://x"',
    ]);
    const dup =
      'model_list:\n  - model_name: a\n    litellm_params: { api_base: "http://x:1" }\n  - model_name: a\n    litellm_params: { api_base: "http://x:1/" }\n';
    assert.deepEqual(problemsOf(dup), ['model_list[1]: duplicates model_list[0] (same model_name and api_base)']);
  });

  test('unknown keys are warnings, not errors', () => {
    const config = parseConfigText(
      'model_list: []\nrouter_settings:\n  routing_strategy: round-robin\n  colour: blue\nextra: 1\n',
      't',
      {},
    );
    assert.deepEqual(config.warnings, ['router_settings.colour: unknown key, ignored', 'extra: unknown key, ignored']);
  });

  test('YAML syntax errors and empty files are refused clearly', () => {
    assert.match(problemsOf('model_list: [\n')[0]!, /^\(yaml\): /);
    assert.deepEqual(problemsOf(''), ['(root): the file is empty']);
    assert.deepEqual(problemsOf('- a\n- b\n'), ['(root): expected a mapping']);
  });

  test('os.environ/NAME keys resolve from the environment; an unset one marks the backend, not the file', () => {
    const text =
      'model_list:\n  - model_name: a\n    litellm_params: { api_base: "http://a:1", api_key: os.environ/A_KEY }\n  - model_name: b\n    litellm_params: { api_base: "http://b:1", api_key: os.environ/B_KEY }\n';
    const config = parseConfigText(text, 't', { A_KEY: 'sk-a' });
    assert.equal(config.backends[0]!.apiKey, 'sk-a');
    assert.equal(config.backends[1]!.apiKey, undefined);
    assert.equal(config.backends[1]!.keyProblem, 'api_key: environment variable B_KEY is not set');
  });

  test('environment_variables in the file count for os.environ/ references', () => {
    const text =
      'environment_variables: { K: from-file }\nmodel_list:\n  - model_name: a\n    litellm_params: { api_base: "http://a:1", api_key: os.environ/K }\n';
    assert.equal(parseConfigText(text, 't', {}).backends[0]!.apiKey, 'from-file');
  });

  test('litellm_settings merge under router_settings, which wins', () => {
    const config = parseConfigText(
      'litellm_settings: { num_retries: 5, allowed_fails: 1, drop_params: true }\nrouter_settings: { num_retries: 1 }\n',
      't',
      {},
    );
    assert.equal(config.router.numRetries, 1);
    assert.equal(config.router.breaker.allowedFails, 1);
  });

  test('LiteLLM provider prefixes set the api_format and are dropped from the model name', () => {
    const text =
      'model_list:\n  - model_name: c\n    litellm_params: { api_base: "https://api.example:443", model: cohere/rerank-v3.5 }\n  - model_name: h\n    litellm_params: { api_base: "http://h:1", model: BAAI/bge-reranker-v2-m3 }\n';
    const [cohere, hf] = parseConfigText(text, 't', {}).backends;
    assert.equal(cohere!.apiFormat, 'cohere');
    assert.equal(cohere!.model, 'rerank-v3.5');
    assert.equal(hf!.apiFormat, 'native');
    assert.equal(hf!.model, 'BAAI/bge-reranker-v2-m3');
  });

  test('rpm/tpm and timeouts are read at entry level and in litellm_params', () => {
    const text =
      'model_list:\n  - model_name: a\n    rpm: 10\n    litellm_params: { api_base: "http://a:1", tpm: 500, timeout: 2.5 }\n';
    const b = parseConfigText(text, 't', {}).backends[0]!;
    assert.deepEqual([b.rpm, b.tpm, b.timeoutMs], [10, 500, 2500]);
  });

  test('the local backend comes from the environment, then the file, then the default', () => {
    assert.equal(parseConfigText('{}', 't', {}).local.apiBase, DEFAULT_LOCAL_BACKEND_URL);
    const fromFile = parseConfigText(
      'router_settings: { local_backend: { api_base: "http://127.0.0.1:9", api_format: tei } }',
      't',
      {},
    );
    assert.deepEqual([fromFile.local.apiBase, fromFile.local.apiFormat], ['http://127.0.0.1:9', 'tei']);
    const fromEnv = parseConfigText('router_settings: { local_backend: { api_base: "http://127.0.0.1:9" } }', 't', {
      RERANKER_LOCAL_BACKEND_URL: 'http://127.0.0.1:7',
    });
    assert.equal(fromEnv.local.apiBase, 'http://127.0.0.1:7');
  });

  test("the local backend's timeout follows local_backend.timeout, else the overall deadline (or its alias)", () => {
    assert.equal(parseConfigText('router_settings: { timeout: 7 }', 't', {}).local.timeoutMs, 7000);
    assert.equal(
      parseConfigText('router_settings: { default_timeout: 9, local_backend: { timeout: 2 } }', 't', {}).local
        .timeoutMs,
      2000,
    );
  });

  test('the same bytes give the same hash', () => {
    assert.equal(parseConfigText(seedExample, 'a', {}).hash, parseConfigText(seedExample, 'b', {}).hash);
    assert.notEqual(
      parseConfigText(seedExample, 'a', {}).hash,
      parseConfigText(`${seedExample}\n# edit\n`, 'a', {}).hash,
    );
  });

  test("RERANKER_CONFIG_PATH wins; otherwise the seed's search list is used in order", () => {
    const dir = mkdtempSync(join(tmpdir(), 'cfg-'));
    assert.equal(findConfigPath({}, dir), undefined);
    writeFileSync(join(dir, 'config.yaml'), 'model_list: []\n');
    assert.equal(findConfigPath({}, dir), join(dir, 'config.yaml'));
    writeFileSync(join(dir, 'reranker_config.yml'), 'model_list: []\n');
    assert.equal(findConfigPath({}, dir), join(dir, 'reranker_config.yml'));
    assert.equal(findConfigPath({ RERANKER_CONFIG_PATH: 'other.yaml' }, dir), join(dir, 'other.yaml'));
  });

  test('an unreadable file is a ConfigError naming the file', () => {
    assert.throws(
      () => loadConfigFile('/nonexistent/x.yaml', {}),
      (error: unknown) => error instanceof ConfigError && error.problems[0] === '(file): cannot read (ENOENT)',
    );
  });
});

test('pool-wide limits are split across sidecar_count sidecars (RERANKER_SIDECAR_COUNT wins)', () => {
  const text =
    'model_list:\n  - model_name: a\n    rpm: 100\n    tpm: 1000\n    litellm_params: { api_base: "http://a:1" }\nrouter_settings: { sidecar_count: 3 }\n';
  const fromFile = parseConfigText(text, 't', {}).backends[0]!;
  assert.deepEqual([fromFile.rpm, fromFile.tpm], [34, 334]);
  const fromEnv = parseConfigText(text, 't', { RERANKER_SIDECAR_COUNT: '4' }).backends[0]!;
  assert.deepEqual([fromEnv.rpm, fromEnv.tpm], [25, 250]);
});

describe('config errors never repeat secrets', () => {
  test('a key of the wrong type, a URL with credentials and a bad environment value are named without their values', () => {
    const problems = problemsOf(`
model_list:
  - model_name: a
    litellm_params: { api_base: "ftp://svc:PASSWORD42@host/", api_key: 987654321012345 }
environment_variables:
  SECRET_TOKEN: [ "sk-live-abcdef0123456789" ]
`);
    const text = problems.join('\n');
    assert.ok(problems.includes('model_list[0].litellm_params.api_key: expected string'), text);
    assert.ok(
      problems.some((p) => p.startsWith('environment_variables.SECRET_TOKEN: ')),
      text,
    );
    for (const secret of ['987654321012345', 'PASSWORD42', 'svc:', 'sk-live-abcdef0123456789'])
      assert.ok(!text.includes(secret), `${secret} echoed in:\n${text}`);
  });

  test('a bad http URL is shown without userinfo', () => {
    const problems = problemsOf(
      'model_list:\n  - model_name: a\n    litellm_params: { api_base: "gopher://u:s3cr3t@h:1/x" }\n',
    );
    assert.ok(
      problems.includes('model_list[0].litellm_params.api_base: expected an http(s) URL, got "gopher://h:1/x"'),
      problems.join('\n'),
    );
  });
});

describe('names and identity', () => {
  test('entries sharing a model_name (a LiteLLM model group) get one name each, by host', () => {
    const config = parseConfigText(
      `
model_list:
  - { model_name: rr, litellm_params: { api_base: "http://10.0.0.1:8000" } }
  - { model_name: rr, litellm_params: { api_base: "http://10.0.0.2:8000" } }
  - { model_name: rr, litellm_params: { api_base: "http://10.0.0.2:8000/v2" } }
  - { model_name: solo, litellm_params: { api_base: "http://10.0.0.3:8000" } }
`,
      't.yaml',
      {},
    );
    assert.deepEqual(
      config.backends.map((b) => b.name),
      ['rr@10.0.0.1:8000', 'rr@10.0.0.2:8000', 'rr@10.0.0.2:8000#2', 'solo'],
    );
    assert.equal(new Set(config.backends.map((b) => b.id)).size, 4);
    assert.ok(
      config.warnings.some((w) => w.includes('"rr"')),
      config.warnings.join('\n'),
    );
  });

  test('the same YAML with a rotated key file is a different config (key digest), with the same hash', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rlb-key-'));
    const keyFile = join(dir, 'key');
    const yaml = `model_list:\n  - { model_name: a, litellm_params: { api_base: "http://a:1", api_key_file: "${keyFile}" } }\n`;
    writeFileSync(keyFile, 'first-key');
    const before = parseConfigText(yaml, 't.yaml', {});
    writeFileSync(keyFile, 'second-key');
    const after = parseConfigText(yaml, 't.yaml', {});
    assert.equal(after.hash, before.hash);
    assert.notEqual(after.keyDigest, before.keyDigest);
    assert.equal(after.backends[0]!.apiKey, 'second-key');
  });
});

test('seconds become whole milliseconds: 1.005 s is 1005 ms (Node refuses a fractional server timeout)', () => {
  const config = parseConfigText(
    'model_list: []\nrouter_settings: { client_header_timeout: 1.005, client_body_timeout: 2.01, keepalive_timeout: 65.1, retry_delay: 0.0001 }\n',
    'ms.yaml',
    {},
  );
  assert.deepEqual(
    [config.router.server.headerTimeoutMs, config.router.server.bodyTimeoutMs, config.router.server.keepAliveTimeoutMs],
    [1005, 2010, 65100],
  );
  assert.equal(config.router.retryDelayMs, 1, 'a positive time never rounds to 0 (no limit)');
  assert.doesNotThrow(() => createServer(serverOptions(config.router.server)).close());
});

test('errors name where the user wrote the key: litellm_settings for a merged one; a long string says characters', () => {
  const problems = (text: string) => {
    try {
      parseConfigText(text, 'e.yaml', {});
      return [];
    } catch (error) {
      return (error as ConfigError).problems;
    }
  };
  assert.deepEqual(problems('litellm_settings: { timeout: 6000 }\n'), [
    'litellm_settings.timeout: expected number <= 3600, got 6000',
  ]);
  assert.deepEqual(
    problems('litellm_settings: { timeout: 6000 }\nrouter_settings: { timeout: 5 }\n'),
    [],
    'router_settings wins, the merged key is not used',
  );
  assert.deepEqual(
    problems(
      `model_list: [{ model_name: a, litellm_params: { api_base: "http://a:1", model: "${'m'.repeat(254)}" } }]\n`,
    ),
    ['model_list[0].litellm_params.model: expected at most 253 characters'],
  );
});
