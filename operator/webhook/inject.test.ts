import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { RerankerPool } from '../crd/pool-schema.ts';
import { decideInjection, type Pod } from './inject.ts';
import { imageVersion, injectionSettings, certificateNames } from './settings.ts';
import type { SidecarSettings } from './sidecar-container.ts';

const SETTINGS: SidecarSettings = {
  image: 'ghcr.io/reranker-lb/sidecar:0.2.0',
  version: '0.2.0',
  imagePullPolicy: 'IfNotPresent',
  logLevel: 'info',
  resources: { requests: { cpu: '100m', memory: '96Mi' }, limits: { memory: '256Mi' } },
};

function pool(spec: Partial<RerankerPool['spec']> = {}): RerankerPool {
  return {
    metadata: { name: 'search', namespace: 'app' },
    spec: { routing: {}, backends: [], discovery: [], sidecarPort: 8000, ...spec } as RerankerPool['spec'],
  };
}

function pod(
  over: {
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    initContainers?: Pod['spec']['containers'];
    containers?: Pod['spec']['containers'];
    automount?: boolean;
  } = {},
): Pod {
  return {
    metadata: {
      generateName: 'search-api-7d9f-',
      namespace: 'app',
      labels: { app: 'search-api', 'reranker.dev/pool': 'search', ...over.labels },
      ...(over.annotations === undefined ? {} : { annotations: over.annotations }),
    },
    spec: {
      serviceAccountName: 'search-api',
      containers: over.containers ?? [{ name: 'app', ports: [{ containerPort: 8080 }] }],
      ...(over.initContainers === undefined ? {} : { initContainers: over.initContainers }),
      ...(over.automount === undefined ? {} : { automountServiceAccountToken: over.automount }),
    },
  };
}

/** Applies the `add` operations the way the API server does (enough for these tests). */
function applyPatch(target: any, ops: { op: string; path: string; value: unknown }[]): any {
  const out = structuredClone(target);
  for (const op of ops) {
    const parts = op.path
      .split('/')
      .slice(1)
      .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
    const last = parts.pop()!;
    let node = out;
    for (const p of parts) node = node[p];
    if (Array.isArray(node)) node.splice(Number(last), 0, op.value);
    else node[last] = op.value;
  }
  return out;
}

function injected(p: Pod, pl = pool()): any {
  const d = decideInjection(p, pl, SETTINGS);
  assert.equal(d.inject, true, JSON.stringify(d));
  return { pod: applyPatch(p, d.inject ? d.patch : []), warnings: d.warnings };
}

const env = (c: any) => Object.fromEntries(c.env.map((e: any) => [e.name, e.value ?? e.valueFrom]));

describe('decideInjection', () => {
  test('a labelled pod gets the native sidecar first, with env, probes, port, resources, hardened securityContext', () => {
    const { pod: out, warnings } = injected(pod({ initContainers: [{ name: 'migrate' }] }));
    assert.deepEqual(warnings, []);
    const c = out.spec.initContainers[0];
    assert.equal(out.spec.initContainers[1].name, 'migrate');
    assert.equal(c.name, 'reranker-lb');
    assert.equal(c.image, SETTINGS.image);
    assert.equal(c.restartPolicy, 'Always');
    const e = env(c);
    assert.equal(e.RERANKER_LOAD_BALANCER_ENABLED, 'true');
    assert.equal(e.RERANKER_CONFIGMAP_NAME, 'search-reranker-config');
    assert.deepEqual(e.POD_NAMESPACE, { fieldRef: { fieldPath: 'metadata.namespace' } });
    assert.deepEqual(
      e.POD_NAME,
      { fieldRef: { fieldPath: 'metadata.name' } },
      'its name: the canary plan names the one pod that runs the canary',
    );
    // Heap flags here would override what the image's launcher derives from the memory limit.
    assert.equal(e.NODE_OPTIONS, undefined);
    assert.equal(e.RERANKER_LB_PORT, '8000');
    assert.deepEqual(c.ports, [{ name: 'reranker-lb', containerPort: 8000, protocol: 'TCP' }]);
    assert.equal(c.readinessProbe.httpGet.path, '/ready');
    assert.equal(c.livenessProbe.httpGet.path, '/health');
    assert.equal(c.startupProbe.httpGet.path, '/health');
    assert.deepEqual(c.resources, SETTINGS.resources);
    assert.deepEqual(
      [
        c.securityContext.runAsNonRoot,
        c.securityContext.readOnlyRootFilesystem,
        c.securityContext.allowPrivilegeEscalation,
        c.securityContext.capabilities.drop,
      ],
      [true, true, false, ['ALL']],
    );
    assert.equal(out.metadata.labels['reranker.dev/sidecar'], 'true');
    assert.equal(out.metadata.annotations['reranker.dev/injected-version'], '0.2.0');
    assert.deepEqual(out.spec.containers, pod().spec.containers, 'app containers untouched');
  });

  test('a pod without init containers or annotations gets both lists created', () => {
    const { pod: out } = injected(pod());
    assert.equal(out.spec.initContainers.length, 1);
    assert.deepEqual(out.metadata.annotations, { 'reranker.dev/injected-version': '0.2.0' });
  });

  test("the pool's Secret references become secretKeyRef env (optional), once each, with the names the rendered config uses", () => {
    const ref = { name: 'cohere', key: 'api-key' };
    const { pod: out } = injected(
      pod(),
      pool({
        backends: [
          { name: 'a', apiBase: 'https://x', apiKeySecretRef: ref } as any,
          { name: 'b', apiBase: 'https://y', apiKeySecretRef: ref } as any,
        ],
        discovery: [{ service: 'tei', apiKeySecretRef: { name: 'tei-key', key: 'token' } } as any],
      }),
    );
    const keys = out.spec.initContainers[0].env.filter((e: any) => e.name.startsWith('RERANKER_KEY_'));
    assert.deepEqual(keys, [
      {
        name: 'RERANKER_KEY_COHERE__API_KEY',
        valueFrom: { secretKeyRef: { name: 'cohere', key: 'api-key', optional: true } },
      },
      {
        name: 'RERANKER_KEY_TEI_KEY__TOKEN',
        valueFrom: { secretKeyRef: { name: 'tei-key', key: 'token', optional: true } },
      },
    ]);
  });

  test("annotations tune port, log level, resources and the local backend; the pool's sidecarPort is the default port", () => {
    const { pod: out, warnings } = injected(
      pod({
        annotations: {
          'reranker.dev/sidecar-port': '9000',
          'reranker.dev/sidecar-log-level': 'debug',
          'reranker.dev/sidecar-cpu-request': '250m',
          'reranker.dev/sidecar-memory-limit': '512Mi',
          'reranker.dev/sidecar-cpu-limit': '1',
          'reranker.dev/local-backend-url': 'http://127.0.0.1:8080',
          'reranker.dev/local-backend-format': 'tei',
        },
      }),
    );
    const c = out.spec.initContainers[0];
    assert.deepEqual(warnings, []);
    assert.equal(c.ports[0].containerPort, 9000);
    assert.deepEqual(
      [
        env(c).RERANKER_LB_PORT,
        env(c).LOG_LEVEL,
        env(c).RERANKER_LOCAL_BACKEND_URL,
        env(c).RERANKER_LOCAL_BACKEND_FORMAT,
      ],
      ['9000', 'debug', 'http://127.0.0.1:8080', 'tei'],
    );
    assert.deepEqual(c.resources, { requests: { cpu: '250m', memory: '96Mi' }, limits: { memory: '512Mi', cpu: '1' } });
    assert.equal(injected(pod(), pool({ sidecarPort: 8100 })).pod.spec.initContainers[0].ports[0].containerPort, 8100);
  });

  const invalid: [string, string][] = [
    ['reranker.dev/sidecar-port', '70000'],
    ['reranker.dev/sidecar-log-level', 'loud'],
    ['reranker.dev/sidecar-memory-limit', 'lots'],
    ['reranker.dev/local-backend-url', 'file:///etc/passwd'],
    ['reranker.dev/local-backend-format', 'soap'],
  ];
  for (const [key, value] of invalid) {
    test(`an invalid ${key} (${value}) is named in a warning and the default kept`, () => {
      const { pod: out, warnings } = injected(pod({ annotations: { [key]: value } }));
      assert.equal(warnings.length, 1);
      assert.match(warnings[0]!, new RegExp(key.replace(/\./g, '\\.')));
      assert.equal(out.spec.initContainers[0].ports[0].containerPort, 8000);
    });
  }

  const skipped: {
    name: string;
    pod: Pod;
    pool?: RerankerPool | undefined;
    reason: string;
    event: boolean;
    warning: RegExp;
  }[] = [
    {
      name: 'opted out',
      pod: pod({ labels: { 'reranker.dev/inject': 'false' } }),
      reason: 'OptedOut',
      event: false,
      warning: /reranker\.dev\/inject=false/,
    },
    {
      name: 'already has the sidecar (hand-written)',
      pod: pod({ initContainers: [{ name: 'reranker-lb' }] }),
      reason: 'AlreadyInjected',
      event: true,
      warning: /already has a container named reranker-lb/,
    },
    {
      name: 'already injected (annotation)',
      pod: pod({ annotations: { 'reranker.dev/injected-version': '0.1.0' } }),
      reason: 'AlreadyInjected',
      event: true,
      warning: /already/,
    },
    {
      name: 'no such pool',
      pod: pod(),
      pool: undefined,
      reason: 'PoolNotFound',
      event: true,
      warning: /RerankerPool "search" not found/,
    },
    {
      name: 'the port is taken by the app',
      pod: pod({ containers: [{ name: 'app', ports: [{ containerPort: 8000 }] }] }),
      reason: 'PortInUse',
      event: true,
      warning: /container app already uses port 8000/,
    },
    {
      name: 'no pool label',
      pod: { metadata: { labels: {} }, spec: { containers: [] } },
      reason: 'NoPoolLabel',
      event: false,
      warning: /no reranker\.dev\/pool label/,
    },
  ];
  for (const c of skipped) {
    test(`admitted unchanged with a warning: ${c.name}`, () => {
      const d = decideInjection(c.pod, 'pool' in c ? c.pool : pool(), SETTINGS);
      assert.equal(d.inject, false);
      if (d.inject) return;
      assert.equal(d.reason, c.reason);
      assert.equal(d.event, c.event);
      assert.match(d.warnings.join('\n'), c.warning);
    });
  }

  test('automountServiceAccountToken: false still injects, with a warning', () => {
    const { warnings } = injected(pod({ automount: false }));
    assert.match(warnings.join(), /automountServiceAccountToken/);
  });
});

describe('injection settings', () => {
  test('off unless INJECTION_ENABLED=true', () => {
    assert.deepEqual(injectionSettings({}), { settings: undefined, problems: [] });
  });
  test('problems are named', () => {
    const { problems } = injectionSettings({
      INJECTION_ENABLED: 'true',
      WEBHOOK_URL: 'http://x',
      SIDECAR_RESOURCES: '{',
    });
    assert.deepEqual(
      problems.map((p) => p.split(':')[0]),
      ['SIDECAR_IMAGE', 'SIDECAR_RESOURCES', 'WEBHOOK_URL'],
    );
  });
  test('the version is the image tag; the certificate names the Service and the URL host', () => {
    assert.equal(imageVersion('ghcr.io/reranker-lb/sidecar:0.2.0'), '0.2.0');
    assert.equal(imageVersion('localhost:5000/sidecar'), 'latest');
    assert.equal(imageVersion('r/sidecar@sha256:abc'), 'sha256:abc');
    const { settings } = injectionSettings({
      INJECTION_ENABLED: 'true',
      SIDECAR_IMAGE: 'r/s:1',
      WEBHOOK_SERVICE: 'rrlb-webhook.rrlb-system',
      WEBHOOK_URL: 'https://198.18.43.1:9443/mutate-pods',
    });
    assert.equal(settings?.sidecar.version, '1');
    assert.deepEqual(certificateNames(settings!), [
      'rrlb-webhook.rrlb-system.svc',
      'rrlb-webhook.rrlb-system.svc.cluster.local',
      '198.18.43.1',
    ]);
  });
});
