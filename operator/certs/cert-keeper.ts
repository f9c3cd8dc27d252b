/**
 * Keeps the webhook's serving certificate: reads the Secret, acts on planCertificates (pure),
 * writes the Secret (create, or update on its resourceVersion so two replicas cannot both win),
 * hands the certificate to the HTTPS server, and keeps the caBundle of the operator's own
 * MutatingWebhookConfiguration trusting every CA a replica serves from (rotation.ts: a new CA
 * is added before anyone serves from it, an old one dropped once every replica reports the new).
 * In cert-manager mode it only reads the Secret cert-manager writes; the CA injector owns the
 * caBundle. Checked every `checkMs`, so a deleted Secret or an edited caBundle is repaired within
 * one period.
 */
import type { Logger } from 'pino';
import { KubeApiError, type KubeApi } from '../../kube/api.ts';
import type { Clock, Timers } from '../../common/clock.ts';
import { issueCa, issueServing } from './issue.ts';
import { decodeSecretData, encodeSecretData, planCertificates, type StoredCertificates } from './plan.ts';
import {
  encodeBundle,
  fingerprint,
  parseBundle,
  parseReports,
  planBundle,
  reportDue,
  reportKey,
  reportPatch,
  ROTATE_CA_ANNOTATION,
  rotationTiming,
  shouldServe,
  type RotationTiming,
} from './rotation.ts';

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
  /** This replica, in its report of the CA it serves from (rotation.ts). */
  readonly identity: string;
  readonly onCertificate: (cert: { cert: string; key: string; caCert: string }) => void;
  readonly caValidityDays?: number;
  readonly servingValidityDays?: number;
  /** How long a new CA sits in the bundle before a replica serves from it (rotation.ts). */
  readonly settleMs?: number;
}

interface Secret {
  metadata: { name: string; resourceVersion?: string; annotations?: Record<string, string> };
  data?: Record<string, string>;
}

interface WebhookConfiguration {
  webhooks?: { name: string; clientConfig?: { caBundle?: string; url?: string } }[];
}

export class CertKeeper {
  readonly #o: CertKeeperOptions;
  readonly #timing: RotationTiming;
  readonly #reportKey: string;
  #servedCert: string | undefined;
  #servedCa: string | undefined;
  /** The Secret's CA (by fingerprint) and when (monotonic) this replica first saw it in every webhook's caBundle. */
  #inBundle: { print: string; since: number } | undefined;
  /** Sooner than checkMs while a new certificate waits for its CA to settle in the bundle. */
  #nextMs: number | undefined;
  #timer: unknown;
  #stopped = false;

  constructor(options: CertKeeperOptions) {
    this.#o = options;
    this.#timing = rotationTiming(options.checkMs, options.settleMs);
    this.#reportKey = reportKey(options.identity);
  }

  get #secretPath(): string {
    return `/api/v1/namespaces/${this.#o.namespace}/secrets/${this.#o.secretName}`;
  }

  get #configPath(): string {
    return `/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/${this.#o.webhookConfigName}`;
  }

  /** One pass; returns the certificates in force, or undefined when there are none yet. */
  async sync(): Promise<StoredCertificates | undefined> {
    const o = this.#o;
    this.#nextMs = undefined;
    let secret = await o.api.get<Secret>(this.#secretPath);
    let stored = decodeSecretData(secret?.data);
    if (o.mode === 'cert-manager') {
      if (stored === undefined)
        o.logger.warn(
          { secret: `${o.namespace}/${o.secretName}` },
          'webhook certificate: cert-manager has not written the Secret yet',
        );
      else this.#serve(stored);
      return stored;
    }
    const plan = planCertificates(
      stored,
      o.names,
      o.clock.wallNow(),
      secret?.metadata.annotations?.[ROTATE_CA_ANNOTATION] !== undefined,
    );
    if (plan.action !== 'keep') {
      const issued = await this.#issue(plan.action, plan.reason, stored, secret);
      if (issued === undefined) return undefined; // lost a race with another replica: the next pass reads its result
      ({ stored, secret } = issued);
    }
    if (stored === undefined || secret === undefined) return undefined;
    const config = await o.api.get<WebhookConfiguration>(this.#configPath);
    if (config === undefined) {
      o.logger.warn(
        { name: o.webhookConfigName },
        'MutatingWebhookConfiguration not found; the caBundle is set once it exists',
      );
      this.#serve(stored); // nothing trusts any CA yet, so nothing can break
      return stored;
    }
    await this.#rotate(stored, secret, config);
    return stored;
  }

  /** Serves the stored certificate once its CA is trusted, keeps the bundle, reports what is served. */
  async #rotate(stored: StoredCertificates, secret: Secret, config: WebhookConfiguration): Promise<void> {
    const o = this.#o;
    const now = o.clock.wallNow();
    const hooks = config.webhooks ?? [];
    const bundles = hooks.map((w) => parseBundle(w.clientConfig?.caBundle));
    const print = fingerprint(stored.caCert);
    const trusted = hooks.length > 0 && bundles.every((b) => b.some((pem) => fingerprint(pem) === print));
    if (!trusted) this.#inBundle = undefined;
    else if (this.#inBundle?.print !== print) this.#inBundle = { print, since: o.clock.now() };
    const trustedForMs = this.#inBundle === undefined ? undefined : o.clock.now() - this.#inBundle.since;
    if (
      shouldServe({
        storedCa: stored.caCert,
        servedCa: this.#servedCa,
        trustedForMs,
        timing: this.#timing,
      })
    )
      this.#serve(stored);
    else this.#nextMs = trustedForMs === undefined ? 1000 : Math.max(0, this.#timing.settleMs - trustedForMs);
    const current = [...new Map(bundles.flat().map((pem) => [fingerprint(pem), pem])).values()];
    const reports = parseReports(secret.metadata.annotations);
    const plan = planBundle({
      storedCa: stored.caCert,
      servedCa: this.#servedCa,
      bundle: current,
      reports,
      trustedForMs,
      now,
      timing: this.#timing,
    });
    await this.#ensureCaBundle(hooks, plan.bundle);
    if (plan.overlapping)
      o.logger.info(
        { waiting_for: plan.waitingFor, cas: plan.bundle.length },
        'webhook caBundle: keeping the previous CA while replicas switch',
      );
    const servedPrint = fingerprint(this.#servedCa!);
    const mine = reports.find((r) => r.replica === this.#reportKey);
    if (reportDue({ mine, servedPrint, overlapping: plan.overlapping, now, timing: this.#timing })) {
      await this.#report(
        secret,
        reportPatch({ key: this.#reportKey, servedPrint, reports, now, timing: this.#timing }),
      );
    }
  }

  #serve(stored: StoredCertificates): void {
    if (this.#servedCert === stored.cert) return;
    this.#o.onCertificate({ cert: stored.cert, key: stored.key, caCert: stored.caCert });
    this.#servedCert = stored.cert;
    this.#servedCa = stored.caCert;
    this.#o.logger.info(
      { secret: `${this.#o.namespace}/${this.#o.secretName}`, ca: fingerprint(stored.caCert) },
      'webhook certificate loaded',
    );
  }

  async #issue(
    action: 'issue-ca' | 'issue-serving',
    reason: string,
    stored: StoredCertificates | undefined,
    secret: Secret | undefined,
  ): Promise<{ stored: StoredCertificates; secret: Secret } | undefined> {
    const o = this.#o;
    const now = o.clock.wallNow();
    const ca =
      action === 'issue-ca' || stored?.caKey === undefined
        ? issueCa('reranker-lb-webhook-ca', { now, days: o.caValidityDays ?? 3650 })
        : { caCert: stored.caCert, caKey: stored.caKey };
    const issued = issueServing(ca, o.names, { now, days: o.servingValidityDays ?? 365 });
    // Replicas' reports stay; the rotation request is answered.
    const { [ROTATE_CA_ANNOTATION]: _answered, ...annotations } = secret?.metadata.annotations ?? {};
    const body = {
      apiVersion: 'v1',
      kind: 'Secret',
      type: 'kubernetes.io/tls',
      metadata: {
        name: o.secretName,
        namespace: o.namespace,
        labels: { 'app.kubernetes.io/managed-by': 'reranker-lb-operator' },
        ...(Object.keys(annotations).length === 0 ? {} : { annotations }),
        ...(secret?.metadata.resourceVersion === undefined ? {} : { resourceVersion: secret.metadata.resourceVersion }),
      },
      data: encodeSecretData(issued),
    };
    let written: Secret | undefined;
    try {
      if (secret === undefined)
        written = await o.api.request<Secret>('POST', `/api/v1/namespaces/${o.namespace}/secrets`, { body });
      else written = await o.api.request<Secret>('PUT', this.#secretPath, { body });
    } catch (error) {
      if (error instanceof KubeApiError && error.status === 409) return undefined;
      throw error;
    }
    o.logger.info({ secret: `${o.namespace}/${o.secretName}`, action, reason }, 'webhook certificate issued');
    return { stored: { ...issued }, secret: written ?? body };
  }

  async #ensureCaBundle(hooks: NonNullable<WebhookConfiguration['webhooks']>, cas: readonly string[]): Promise<void> {
    const o = this.#o;
    const bundle = encodeBundle(cas);
    const stale = hooks.filter(
      (w) => w.clientConfig?.caBundle !== bundle || (o.url !== undefined && w.clientConfig?.url !== o.url),
    );
    if (stale.length === 0) return;
    // Strategic merge by webhook name: only caBundle (and url) change; `service: null` removes a
    // Service reference in URL mode, as the API allows exactly one of the two.
    const clientConfig = o.url === undefined ? { caBundle: bundle } : { caBundle: bundle, url: o.url, service: null };
    await o.api.request('PATCH', this.#configPath, {
      contentType: 'application/strategic-merge-patch+json',
      body: { webhooks: stale.map((w) => ({ name: w.name, clientConfig })) },
    });
    o.logger.info(
      { name: o.webhookConfigName, webhooks: stale.map((w) => w.name), cas: cas.map(fingerprint) },
      'webhook caBundle updated',
    );
  }

  /** Writes this replica's report (an update on the resourceVersion read; a conflict waits a pass). */
  async #report(secret: Secret, patch: Record<string, string | null>): Promise<void> {
    const annotations: Record<string, string> = { ...secret.metadata.annotations };
    for (const [key, value] of Object.entries(patch)) {
      if (value === null) delete annotations[key];
      else annotations[key] = value;
    }
    try {
      await this.#o.api.request('PUT', this.#secretPath, {
        body: {
          apiVersion: 'v1',
          kind: 'Secret',
          type: 'kubernetes.io/tls',
          ...secret,
          metadata: { ...secret.metadata, annotations },
        },
      });
    } catch (error) {
      if (error instanceof KubeApiError && error.status === 409) {
        this.#nextMs = Math.min(this.#nextMs ?? 1000, 1000);
        return;
      }
      throw error;
    }
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
      if (this.#nextMs !== undefined) next = Math.min(next, this.#nextMs + 1);
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
