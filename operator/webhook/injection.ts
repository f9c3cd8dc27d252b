/**
 * Sidecar injection, wired: the HTTPS webhook (every replica serves it), the certificate keeper
 * (every replica: each needs the certificate; writes are safe against each other), and the
 * sidecar RBAC controller (the leader acts). main.ts calls start/startLeading(term)/stop.
 */
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { KubeApi } from '../../kube/api.ts';
import type { Clock, Random, Timers } from '../../common/clock.ts';
import { CertKeeper } from '../certs/cert-keeper.ts';
import { GROUP, PLURAL, VERSION, type RerankerPool } from '../crd/pool-schema.ts';
import { EventRecorder } from '../events/recorder.ts';
import { RbacController } from '../rbac/rbac-controller.ts';
import { WebhookServer } from './server.ts';
import { certificateNames, type InjectionSettings } from './settings.ts';

export interface InjectionDeps {
  readonly api: KubeApi;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly timers: Timers;
  readonly random: Random;
  readonly registry: Registry;
  readonly namespace: string;
  readonly namespaces: readonly string[] | undefined;
  readonly identity: string;
}

export class Injection {
  readonly server: WebhookServer;
  readonly certs: CertKeeper;
  readonly rbac: RbacController;
  /** Events aggregated per (object, reason), as the controller's: a large rollout records one series. */
  readonly #events: EventRecorder;

  constructor(settings: InjectionSettings, deps: InjectionDeps) {
    const logger = deps.logger.child({ part: 'injection' });
    this.#events = new EventRecorder({
      api: deps.api,
      clock: deps.clock,
      timers: deps.timers,
      logger,
      component: 'reranker-lb-operator',
      instance: deps.identity,
    });
    const served = deps.namespaces === undefined ? undefined : new Set(deps.namespaces);
    this.server = new WebhookServer(
      {
        settings: settings.sidecar,
        logger,
        getPool: async (ns, name) =>
          served !== undefined && !served.has(ns)
            ? undefined
            : deps.api.get<RerankerPool>(`/apis/${GROUP}/${VERSION}/namespaces/${ns}/${PLURAL}/${name}`),
        event: async (involved, reason, message) =>
          this.#events.record({ ...involved, uid: involved.uid }, 'Warning', reason, message),
      },
      deps.registry,
    );
    this.certs = new CertKeeper({
      api: deps.api,
      logger,
      clock: deps.clock,
      timers: deps.timers,
      mode: settings.certMode,
      namespace: deps.namespace,
      secretName: settings.certSecret,
      webhookConfigName: settings.webhookConfigName,
      names: certificateNames(settings),
      url: settings.url,
      checkMs: settings.certCheckMs,
      identity: deps.identity,
      onCertificate: (cert) => this.server.useCertificate(cert, settings.port, settings.host),
    });
    this.rbac = new RbacController({
      api: deps.api,
      logger,
      timers: deps.timers,
      clock: deps.clock,
      random: deps.random,
      namespaces: deps.namespaces,
    });
  }

  start(): void {
    void this.certs.start();
    this.rbac.start();
  }

  /** The sidecar RBAC controller works for the leadership term `term`. */
  startLeading(term: AbortSignal): void {
    void this.rbac.startLeading(term);
  }

  stop(): void {
    this.certs.stop();
    this.rbac.stop();
    this.#events.stop();
    this.server.close();
  }
}
