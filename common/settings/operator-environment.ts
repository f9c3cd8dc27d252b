/**
 * The operator's environment variables, declared once: docs/settings.md lists them (generated), and
 * environment.test.ts fails when the operator reads a variable not declared here, or one declared
 * here is read nowhere. The chart sets most of them.
 */
import type { EnvVar } from './environment.ts';

export const OPERATOR_ENV = {
  KUBECONFIG: {
    description:
      'kubeconfig file(s), colon-separated: token, token file, client certificate, basic auth or an exec plugin (docs/operator.md); legacy auth providers are refused; in a pod, the service account is used.',
    defaultShown: 'in-cluster',
  },
  WATCH_NAMESPACES: {
    description: 'Only these namespaces, comma-separated (the chart sets it from `operator.namespaces`).',
    alias: 'WATCH_NAMESPACE',
    defaultShown: 'all',
  },
  POD_NAMESPACE: { description: "The Lease's namespace.", defaultShown: "the service account's" },
  POD_NAME: { description: 'Leader-election identity (with a random suffix).', defaultShown: 'the hostname' },
  LEADER_ELECT: { description: '`false` turns leader election off (one replica only).', default: 'true' },
  LEASE_NAME: { description: 'The Lease the replicas elect a leader with.', default: 'reranker-lb-operator' },
  OPERATOR_PORT: { description: '`/healthz`, `/readyz` (initial lists synced) and `/metrics`.', default: 8081 },
  OPERATOR_HOST: { description: 'The address they listen on.', default: '0.0.0.0' },
  OPERATOR_WORKERS: {
    description: 'Pools reconciled at once (a start with 1,000 pools is bound by write latency: docs/scale.md).',
    default: 64,
  },
  OPERATOR_SIDECAR_RESYNC_SECONDS: { description: 'How often synced sidecars are asked again.', default: 30 },
  OPERATOR_SIDECAR_COUNT_STABILIZATION_SECONDS: {
    description:
      'How long fewer sidecar pods must be seen before the rendered sidecar_count drops (a higher count is rendered at once).',
    default: 60,
  },
  OPERATOR_RECONCILE_TIMEOUT_SECONDS: {
    description: 'Deadline of one reconcile (its API calls are cancelled after it; the pool is retried with backoff).',
    default: 10,
  },
  LOG_LEVEL: { description: 'pino level (`debug`, `info`, `warn`, `error`).', default: 'info' },
  INJECTION_ENABLED: { description: '`true` serves the sidecar-injection webhook.', default: 'false' },
  SIDECAR_IMAGE: { description: 'The injected sidecar image (required with injection).', defaultShown: 'none' },
  SIDECAR_VERSION: { description: 'The version the injected pods are labelled with.', defaultShown: 'the image tag' },
  SIDECAR_IMAGE_PULL_POLICY: { description: "The injected container's imagePullPolicy.", default: 'IfNotPresent' },
  SIDECAR_LOG_LEVEL: { description: "The injected sidecar's LOG_LEVEL.", default: 'info' },
  SIDECAR_RESOURCES: {
    description: "The injected container's resources, as JSON.",
    defaultShown: 'the built-in requests and limits',
  },
  WEBHOOK_PORT: { description: 'The webhook server port (HTTPS).', default: 9443 },
  WEBHOOK_HOST: { description: 'The address it listens on.', default: '0.0.0.0' },
  WEBHOOK_CONFIG_NAME: {
    description: 'The MutatingWebhookConfiguration whose caBundle the operator keeps.',
    default: 'reranker-lb-sidecar-injector',
  },
  WEBHOOK_SERVICE: {
    description: 'The webhook Service as `<name>.<namespace>` (or WEBHOOK_URL).',
    defaultShown: 'none',
  },
  WEBHOOK_URL: {
    description:
      'Where the API server reaches the webhook from outside the cluster (`https://<host>:<port>/mutate-pods`).',
    defaultShown: 'none',
  },
  WEBHOOK_CERT_MODE: {
    description: '`self` (the operator issues and rotates the certificate) or `cert-manager`.',
    default: 'self',
  },
  WEBHOOK_CERT_SECRET: {
    description: "The Secret holding the webhook's certificate.",
    default: 'reranker-lb-webhook-tls',
  },
  WEBHOOK_CERT_CHECK_SECONDS: { description: 'How often the certificate is checked (and re-read).', default: 60 },
} as const satisfies Record<string, EnvVar>;
