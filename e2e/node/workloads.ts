/**
 * The workloads of the local node's demo (make cluster) and of e2e/real-node.test.ts, as plain
 * manifests: fake-reranker backends behind a Service, a RerankerPool discovering them, and an
 * application pod wired with the sidecar as examples/sidecar-deployment.yaml wires it (native
 * sidecar, pod label, ConfigMap watch + mounted directory, probes, a Role for one ConfigMap and
 * the namespace's EndpointSlices, which the sidecar follows itself). Its
 * app container is the load generator (e2e/node/load-generator.ts, mounted from a ConfigMap) run
 * by the fake-backend image's Node.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../support/cluster.ts';
import { IMAGE_TAG } from '../support/node-cluster.ts';

const IMAGE_REPO = process.env.IMAGE_REPO ?? 'ghcr.io/reranker-lb';
export const BACKEND = 'fake-reranker';
export const POOL = 'demo';
export const APP = 'demo-app';
export const LOAD_PORT = 9000;

export function image(name: 'sidecar' | 'operator' | 'fake-backend', tag = IMAGE_TAG): string {
  return `${IMAGE_REPO}/${name}:${tag}`;
}

const RESTRICTED_POD = {
  runAsNonRoot: true,
  runAsUser: 1000,
  runAsGroup: 1000,
  seccompProfile: { type: 'RuntimeDefault' },
};
const RESTRICTED_CONTAINER = {
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  capabilities: { drop: ['ALL'] },
};

/** fake-reranker pods (TEI format, BM25 scores) behind the Service the pool discovers. */
export function backends(namespace: string, replicas: number): unknown[] {
  const labels = { app: BACKEND };
  return [
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: BACKEND, namespace },
      spec: {
        replicas,
        selector: { matchLabels: labels },
        // No minReadySeconds: a sidecar routes to a pod as soon as its EndpointSlice says ready
        // (the kubelet's readiness probe is its health), and the whole new set comes up at once.
        strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '100%', maxUnavailable: 0 } },
        template: {
          metadata: { labels },
          spec: {
            securityContext: RESTRICTED_POD,
            // preStop sleeps while the EndpointSlice drops the pod and sidecars reload; then SIGTERM.
            terminationGracePeriodSeconds: 10,
            containers: [
              {
                name: 'reranker',
                image: image('fake-backend'),
                imagePullPolicy: 'IfNotPresent',
                args: ['--host', '0.0.0.0', '--port', '8080', '--format', 'tei', '--latency-ms', '5'],
                ports: [{ name: 'http', containerPort: 8080 }],
                readinessProbe: { httpGet: { path: '/health', port: 'http' }, periodSeconds: 1 },
                lifecycle: { preStop: { sleep: { seconds: 3 } } },
                resources: { requests: { cpu: '10m', memory: '48Mi' }, limits: { memory: '192Mi' } },
                securityContext: RESTRICTED_CONTAINER,
              },
            ],
          },
        },
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: BACKEND, namespace },
      spec: { selector: labels, ports: [{ name: 'http', port: 8080, targetPort: 'http' }] },
    },
  ];
}

/** The pool: every ready fake-reranker endpoint, by pod IP; no local fallback, so calls prove it. */
export function pool(namespace: string): unknown {
  return {
    apiVersion: 'reranker.dev/v1alpha1',
    kind: 'RerankerPool',
    metadata: { name: POOL, namespace },
    spec: {
      routing: {
        routingStrategy: 'least-busy',
        numRetries: 3,
        retryDelay: '50ms',
        fallbackToLocal: false,
        healthCheckInterval: '2s',
        allowedFails: 2,
        cooldownTime: '5s',
      },
      discovery: [{ service: BACKEND, portName: 'http', apiFormat: 'tei' }],
      sidecarSelector: { matchLabels: { app: APP } },
      sidecarPort: 8000,
    },
  };
}

/** The application: the sidecar as a native sidecar, and the load generator as the app. */
export function app(namespace: string, sidecarTag = IMAGE_TAG): unknown[] {
  const configMap = `${POOL}-reranker-config`;
  const labels = { app: APP, 'reranker.dev/sidecar': 'true' };
  return [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: APP, namespace } },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { name: `${APP}-reranker-lb`, namespace },
      rules: [
        { apiGroups: [''], resources: ['configmaps'], resourceNames: [configMap], verbs: ['get', 'list', 'watch'] },
        // The backends' endpoints (discoveryMode sidecar): every EndpointSlice of the namespace is readable.
        { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['list', 'watch'] },
      ],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: `${APP}-reranker-lb`, namespace },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: `${APP}-reranker-lb` },
      subjects: [{ kind: 'ServiceAccount', name: APP, namespace }],
    },
    {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: `${APP}-load`, namespace },
      data: { 'load-generator.mts': readFileSync(join(ROOT, 'e2e/node/load-generator.ts'), 'utf8') },
    },
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: APP, namespace },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: APP } },
        template: {
          metadata: { labels },
          spec: {
            serviceAccountName: APP,
            terminationGracePeriodSeconds: 35,
            securityContext: RESTRICTED_POD,
            initContainers: [
              {
                name: 'reranker-lb',
                image: image('sidecar', sidecarTag),
                imagePullPolicy: 'IfNotPresent',
                restartPolicy: 'Always',
                env: [
                  { name: 'RERANKER_LOAD_BALANCER_ENABLED', value: 'true' },
                  { name: 'RERANKER_CONFIGMAP_NAME', value: configMap },
                  { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
                  { name: 'RERANKER_CONFIG_PATH', value: '/etc/reranker-lb/reranker_config.yaml' },
                ],
                ports: [{ name: 'reranker-lb', containerPort: 8000 }],
                startupProbe: {
                  httpGet: { path: '/health', port: 'reranker-lb' },
                  periodSeconds: 1,
                  failureThreshold: 30,
                },
                livenessProbe: { httpGet: { path: '/health', port: 'reranker-lb' } },
                readinessProbe: { httpGet: { path: '/ready', port: 'reranker-lb' }, periodSeconds: 2 },
                resources: { requests: { cpu: '100m', memory: '96Mi' }, limits: { memory: '256Mi' } },
                securityContext: RESTRICTED_CONTAINER,
                volumeMounts: [{ name: 'reranker-lb-config', mountPath: '/etc/reranker-lb', readOnly: true }],
              },
            ],
            containers: [
              {
                name: 'app',
                image: image('fake-backend'),
                imagePullPolicy: 'IfNotPresent',
                command: ['/usr/local/bin/node', '/load/load-generator.mts'],
                env: [
                  { name: 'RERANKER_BASE_URL', value: 'http://localhost:8000' },
                  { name: 'LOAD_PORT', value: String(LOAD_PORT) },
                ],
                ports: [{ name: 'load', containerPort: LOAD_PORT }],
                readinessProbe: { httpGet: { path: '/stats', port: 'load' }, periodSeconds: 2 },
                resources: { requests: { cpu: '50m', memory: '48Mi' }, limits: { memory: '192Mi' } },
                securityContext: RESTRICTED_CONTAINER,
                volumeMounts: [{ name: 'load', mountPath: '/load', readOnly: true }],
              },
            ],
            volumes: [
              { name: 'reranker-lb-config', configMap: { name: configMap, optional: true } },
              { name: 'load', configMap: { name: `${APP}-load` } },
            ],
          },
        },
      },
    },
  ];
}
