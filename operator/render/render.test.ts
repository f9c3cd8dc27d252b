import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseConfigText } from '../../sidecar/config/load.ts';
import { seededRandom, type Random } from '../../common/clock.ts';
import { poolSpecSchema, type RerankerPool } from '../crd/pool-schema.ts';
import { discoverEndpoints, type EndpointSlice } from '../../common/discovery/endpoint-slices.ts';
import { configSizeProblem } from './config-size.ts';
import { renderConfig } from './render-config.ts';
import { secretEnvName } from './secret-env.ts';
import { mergeEndpoints } from '../../sidecar/discovery/merge-endpoints.ts';

function pool(spec: unknown): RerankerPool {
  return { metadata: { name: 'search', namespace: 'prod', generation: 1 }, spec: poolSpecSchema.parse(spec) };
}

function slice(
  name: string,
  service: string,
  endpoints: EndpointSlice['endpoints'],
  ports = [{ name: 'http', port: 8080 }],
): EndpointSlice {
  return {
    metadata: { name, labels: { 'kubernetes.io/service-name': service } },
    addressType: 'IPv4',
    ports,
    endpoints,
  };
}

const ep = (
  ip: string,
  pod: string,
  conditions: { ready?: boolean | null; terminating?: boolean } = { ready: true },
) => ({ addresses: [ip], conditions, targetRef: { kind: 'Pod', name: pod } });

describe('rendering', () => {
  const spec = {
    routing: { routingStrategy: 'least-busy', numRetries: 1, discoveryMode: 'rendered' },
    backends: [
      {
        name: 'zeta',
        apiBase: 'https://api.example.com/',
        apiFormat: 'cohere',
        model: 'rerank-v3.5',
        priority: 1,
        apiKeySecretRef: { name: 'cohere', key: 'api-key' },
      },
      { name: 'alpha', apiBase: 'http://10.0.0.1:8000', rpm: 100 },
    ],
    discovery: [{ service: 'tei', portName: 'http', apiFormat: 'tei', weight: 2 }],
  };
  const slices = [
    slice('tei-1', 'tei', [
      ep('198.18.0.3', 'tei-b'),
      ep('198.18.0.2', 'tei-a'),
      ep('198.18.0.4', 'tei-c', { ready: false }),
    ]),
  ];

  function render(s = slices, mode = 'rendered') {
    const p = pool({ ...spec, routing: { ...spec.routing, discoveryMode: mode } });
    return renderConfig(
      p,
      p.spec.discovery.map((entry) => ({ entry, endpoints: discoverEndpoints(entry, s) })),
    );
  }

  test('renders the seed format the sidecar loads, keys by reference only', () => {
    const r = render();
    const config = parseConfigText(r.text, 'rendered', {
      [secretEnvName({ name: 'cohere', key: 'api-key' })]: 'sk-test',
    });
    assert.deepEqual(
      config.backends.map((b) => [b.name, b.apiBase, b.apiFormat, b.weight]),
      [
        ['alpha', 'http://10.0.0.1:8000', 'native', 1],
        ['zeta', 'https://api.example.com', 'cohere', 1],
        ['tei/tei-a', 'http://198.18.0.2:8080', 'tei', 2],
        ['tei/tei-b', 'http://198.18.0.3:8080', 'tei', 2],
      ],
    );
    assert.equal(config.router.strategy, 'least-busy');
    assert.equal(config.backends[1]!.apiKey, 'sk-test');
    assert.match(r.text, /api_key: os\.environ\/RERANKER_KEY_COHERE__API_KEY/);
    assert.deepEqual([r.staticCount, r.discoveredCount, r.readyCount], [2, 3, 4]);
    assert.deepEqual(config.warnings, []);
  });

  test('discoveryMode sidecar: the config holds a template, and the sidecar merges the same backends from the slices', () => {
    const r = render(slices, 'sidecar');
    assert.doesNotMatch(r.text, /198\.18\./, 'no endpoint in the ConfigMap');
    const env = { [secretEnvName({ name: 'cohere', key: 'api-key' })]: 'sk-test' };
    const all = mergeEndpoints(parseConfigText(r.text, 'rendered', env), slices).config;
    assert.deepEqual(
      all.backends.filter((b) => b.endpoint === 'not-ready').map((b) => b.name),
      ['tei/tei-c'],
      'a not-ready endpoint is kept as a last resort',
    );
    const merged = { ...all, backends: all.backends.filter((b) => b.endpoint !== 'not-ready') };
    const rendered = parseConfigText(render(slices, 'rendered').text, 'rendered', env);
    const strip = (b: (typeof merged.backends)[number]) => ({
      ...b,
      endpoint: undefined,
      healthCheckEnabled: undefined,
    });
    assert.deepEqual(
      merged.backends.map(strip),
      rendered.backends.map(strip),
      'both modes give the sidecar the same backends',
    );
    assert.deepEqual(
      merged.backends.map((b) => b.endpoint),
      [undefined, undefined, 'ready', 'ready'],
    );
    assert.deepEqual(
      merged.backends.map((b) => b.healthCheckEnabled),
      [true, true, false, false],
      'discovered endpoints are not actively checked by default',
    );
    assert.equal(
      render(slices, 'sidecar').hash,
      render([slice('tei-1', 'tei', [ep('198.18.0.2', 'tei-a')])], 'sidecar').hash,
      'endpoint changes do not change the config',
    );
  });

  test('equal inputs in any order render equal bytes', () => {
    const reversed = [slice('tei-1', 'tei', [...slices[0]!.endpoints!].reverse())];
    assert.equal(render().hash, render(reversed).hash);
    assert.notEqual(render().hash, render([slice('tei-1', 'tei', [ep('198.18.0.2', 'tei-a')])]).hash);
  });
});

describe('size', () => {
  const tei = (n: number) => {
    const p = pool({
      routing: { discoveryMode: 'rendered' },
      discovery: [{ service: 'tei-reranker', portName: 'http', apiFormat: 'tei' }],
    });
    const endpoints = Array.from({ length: n }, (_, i) =>
      ep(`10.244.${(i >> 8) & 255}.${i & 255}`, `tei-reranker-7d9f8b6c4d-${String(i).padStart(5, '0')}`),
    );
    return renderConfig(
      p,
      p.spec.discovery.map((entry) => ({
        entry,
        endpoints: discoverEndpoints(entry, [slice('s', 'tei-reranker', endpoints)]),
      })),
    );
  };

  test('default-valued keys are left out: about 142 bytes per discovered backend (was 172)', () => {
    const perBackend = (tei(2000).text.length - tei(1000).text.length) / 1000;
    assert.ok(perBackend <= 145, `${perBackend} bytes per backend`);
    assert.doesNotMatch(tei(1).text, /weight|priority/);
  });

  test('the size check refuses a config over 1 MiB, at the byte', () => {
    const r = tei(7000);
    const bytes = Buffer.byteLength('reranker_config.yaml') + Buffer.byteLength(r.text);
    assert.equal(configSizeProblem(r, bytes), undefined);
    assert.match(
      configSizeProblem(r, bytes - 1)!.message,
      new RegExp(`^the rendered config is ${bytes} bytes for 7000 backend\\(s\\)`),
    );
    assert.equal(configSizeProblem(tei(7000)), undefined, '7,000 backends fit');
    assert.equal(configSizeProblem(tei(8000))?.reason, 'ConfigTooLarge');
  });
});

/** Random valid pools: every one must render a config the sidecar's own validator accepts. */
function randomPool(random: Random, i: number): unknown {
  const pick = <T>(items: readonly T[]) => items[Math.floor(random() * items.length)]!;
  const maybe = <T>(value: T) => (random() < 0.5 ? value : undefined);
  const settings = () => ({
    apiFormat: pick(['native', 'cohere', 'jina', 'tei', 'vllm', 'infinity']),
    weight: maybe(Math.floor(random() * 100)),
    priority: maybe(Math.floor(random() * 3)),
    rpm: maybe(1 + Math.floor(random() * 1000)),
    tpm: maybe(1 + Math.floor(random() * 100000)),
    maxParallelRequests: maybe(1 + Math.floor(random() * 64)),
    timeout: maybe(`${500 + Math.floor(random() * 30_000)}ms`),
    model: maybe(pick(['rerank-v3.5', 'BAAI/bge-reranker-v2-m3'])),
    healthCheckEnabled: maybe(random() < 0.5),
    apiKeySecretRef: maybe({ name: `s${i}`, key: 'k' }),
  });
  const backends = Array.from({ length: Math.floor(random() * 4) }, (_, n) => ({
    name: `b-${n}`,
    apiBase: `http://10.0.${i % 250}.${n + 1}:${8000 + n}`,
    ...settings(),
  }));
  const discovery = Array.from({ length: backends.length === 0 ? 1 : Math.floor(random() * 3) }, (_, n) => ({
    service: `svc-${n}`,
    port: 8080,
    ...settings(),
  }));
  return {
    routing: {
      routingStrategy: maybe(
        pick([
          'weighted-random',
          'round-robin',
          'least-busy',
          'latency-based-routing',
          'priority-failover',
          'simple-shuffle',
          'usage-based-routing',
          'cost-based-routing',
        ]),
      ),
      numRetries: maybe(Math.floor(random() * 5)),
      retryDelay: maybe(`${Math.floor(random() * 1000)}ms`),
      fallbackToLocal: maybe(random() < 0.5),
      healthCheckInterval: maybe(`${Math.floor(random() * 120)}s`),
      retryOnStatusCodes: maybe([429, 503]),
      allowedFails: maybe(Math.floor(random() * 5)),
      cooldownTime: maybe(`${1 + Math.floor(random() * 60)}s`),
      sidecarCount: maybe(1 + Math.floor(random() * 5)),
      discoveryMode: maybe(pick(['sidecar', 'rendered'])),
    },
    backends,
    discovery,
  };
}

test('property: 300 random valid pools all render configs the sidecar accepts without warnings', () => {
  const random = seededRandom(2026);
  for (let i = 0; i < 300; i++) {
    const p = pool(randomPool(random, i));
    const slices = p.spec.discovery.map((entry, n) =>
      slice(
        `sl-${i}-${n}`,
        entry.service,
        [ep(`198.18.${i % 250}.${1 + Math.floor(random() * 200)}`, `pod-${i}`)],
        [{ name: 'http', port: 8080 }],
      ),
    );
    const r = renderConfig(
      p,
      p.spec.discovery.map((entry) => ({ entry, endpoints: discoverEndpoints(entry, slices) })),
    );
    // Whichever the mode, the sidecar ends up with the ready backends.
    const config = mergeEndpoints(parseConfigText(r.text, `pool ${i}`, {}), slices).config;
    assert.equal(config.backends.length, r.readyCount, `pool ${i}`);
    assert.deepEqual(config.warnings, [], `pool ${i}`);
    // Keys left out because they equal the sidecar's defaults load as the spec's values.
    for (const b of p.spec.backends) {
      const loaded = config.backends.find((c) => c.name === b.name)!;
      assert.deepEqual(
        [loaded.apiFormat, loaded.weight, loaded.priority],
        [b.apiFormat, b.weight, b.priority],
        `pool ${i} ${b.name}`,
      );
    }
  }
});
