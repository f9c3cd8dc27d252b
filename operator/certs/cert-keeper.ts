/**
 * Keeps the webhook's serving certificate: reads the Secret, acts on planCertificates (pure),
 * writes the Secret (create, or update on its resourceVersion so two replicas cannot both win),
 * hands the certificate to the HTTPS server, and keeps the caBundle of the operator's own
 * MutatingWebhookConfiguration equal to the CA. In cert-manager mode it only reads the Secret
 * cert-manager writes; the CA injector owns the caBundle. Checked every `checkMs`, so a deleted
 * Secret or an edited caBundle is repaired within one period.
 */
import type { Logger } from 'pino';
import { KubeApiError, type KubeApi } from '../../kube/api.ts';
import type { Clock, Timers } from '../../common/clock.ts';
import { issueCa, issueServing } from './issue.ts';
import { decodeSecretData, encodeSecretData, planCertificates, type StoredCertificates } from './plan.ts';

export interface CertKeeperOptions {
  readonly api: KubeApi;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly timers: Timers;
  /** `self`: the operator is its own CA; `cert-manager`: read what cert-manager writes. */
  readonly mode: 'self' | 'cert-manager';
  readonly namespace: string;
  readonly secretName: string;
  readonly webhookConfigName: string;
  /** DNS names and IPs the serving certificate must name. */
  readonly names: readonly string[];
  /** URL mode (the operator outside the cluster): also written into every webhook's clientConfig. */
  readonly url: string | undefined;
  readonly checkMs: number;
  readonly onCertificate: (cert: { cert: string; key: string; caCert: string }) => void;
  readonly caValidityDays?: number;
  readonly servingValidityDays?: number;
}

interface Secret {
  metadata: { name: string; resourceVersion?: string };
  data?: Record<string, string>;
}

interface WebhookConfiguration {
  webhooks?: { name: string; clientConfig?: { caBundle?: string; url?: string } }[];
}

export class CertKeeper {
  readonly #o: CertKeeperOptions;
  #served: string | undefined;
  #timer: unknown;
  #stopped = false;

  constructor(options: CertKeeperOptions) {
    this.#o = options;
  }

  get #secretPath(): string {
    return `/api/v1/namespaces/${this.#o.namespace}/secrets/${this.#o.secretName}`;
  }

  /** One pass; returns the certificates in force, or undefined when there are none yet. */
  async sync(): Promise<StoredCertificates | undefined> {
    const o = this.#o;
    const secret = await o.api.get<Secret>(this.#secretPath);
    let stored = decodeSecretData(secret?.data);
    if (o.mode === 'self') {
      const plan = planCertificates(stored, o.names, o.clock.wallNow());
      if (plan.action !== 'keep') {
        stored = await this.#issue(plan.action, plan.reason, stored, secret);
        if (stored === undefined) return undefined; // lost a race with another replica: the next pass reads its result
      }
    } else if (stored === undefined) {
      o.logger.warn({ secret: `${o.namespace}/${o.secretName}` }, 'webhook certificate: cert-manager has not written the Secret yet');
      return undefined;
    }
    if (stored === undefined) return undefined;
    if (this.#served !== stored.cert) {
      o.onCertificate({ cert: stored.cert, key: stored.key, caCert: stored.caCert });
      this.#served = stored.cert;
      o.logger.info({ secret: `${o.namespace}/${o.secretName}` }, 'webhook certificate loaded');
    }
    if (o.mode === 'self') await this.#ensureCaBundle(stored.caCert);
    return stored;
  }

  async #issue(action: 'issue-ca' | 'issue-serving', reason: string, stored: StoredCertificates | undefined, secret: Secret | undefined): Promise<StoredCertificates | undefined> {
    const o = this.#o;
    const now = o.clock.wallNow();
    const ca = action === 'issue-ca' || stored?.caKey === undefined ? issueCa('reranker-lb-webhook-ca', { now, days: o.caValidityDays ?? 3650 }) : { caCert: stored.caCert, caKey: stored.caKey };
    const issued = issueServing(ca, o.names, { now, days: o.servingValidityDays ?? 365 });
    const body = {
      apiVersion: 'v1',
      kind: 'Secret',
      type: 'kubernetes.io/tls',
      metadata: { name: o.secretName, namespace: o.namespace, labels: { 'app.kubernetes.io/managed-by': 'reranker-lb-operator' }, ...(secret?.metadata.resourceVersion === undefined ? {} : { resourceVersion: secret.metadata.resourceVersion }) },
      data: encodeSecretData(issued),
    };
    try {
      if (secret === undefined) await o.api.request('POST', `/api/v1/namespaces/${o.namespace}/secrets`, { body });
      else await o.api.request('PUT', this.#secretPath, { body });
    } catch (error) {
      if (error instanceof KubeApiError && error.status === 409) return undefined;
      throw error;
    }
    o.logger.info({ secret: `${o.namespace}/${o.secretName}`, action, reason }, 'webhook certificate issued');
    return { ...issued };
  }

  async #ensureCaBundle(caCert: string): Promise<void> {
    const o = this.#o;
    const path = `/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/${o.webhookConfigName}`;
    const config = await o.api.get<WebhookConfiguration>(path);
    if (config === undefined) {
      o.logger.warn({ name: o.webhookConfigName }, 'MutatingWebhookConfiguration not found; the caBundle is set once it exists');
      return;
    }
    const bundle = Buffer.from(caCert, 'utf8').toString('base64');
    const stale = (config.webhooks ?? []).filter((w) => w.clientConfig?.caBundle !== bundle || (o.url !== undefined && w.clientConfig?.url !== o.url));
    if (stale.length === 0) return;
    // Strategic merge by webhook name: only caBundle (and url) change; `service: null` removes a
    // Service reference in URL mode, as the API allows exactly one of the two.
    const clientConfig = o.url === undefined ? { caBundle: bundle } : { caBundle: bundle, url: o.url, service: null };
    await o.api.request('PATCH', path, { contentType: 'application/strategic-merge-patch+json', body: { webhooks: stale.map((w) => ({ name: w.name, clientConfig })) } });
    o.logger.info({ name: o.webhookConfigName, webhooks: stale.map((w) => w.name) }, 'webhook caBundle updated');
  }

  /** Syncs now and then every `checkMs`; failures are logged and retried sooner. */
  start(): Promise<void> {
    return this.#loop();
  }

  async #loop(): Promise<void> {
    if (this.#stopped) return;
    let next = this.#o.checkMs;
    try {
      if ((await this.sync()) === undefined) next = Math.min(next, 1000);
    } catch (error) {
      next = Math.min(next, 2000);
      this.#o.logger.warn({ err: (error as Error).message, retry_in_ms: next }, 'webhook certificate sync failed');
    }
    if (!this.#stopped) this.#timer = this.#o.timers.setTimeout(() => void this.#loop(), next);
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer !== undefined) this.#o.timers.clearTimeout(this.#timer);
  }
}
