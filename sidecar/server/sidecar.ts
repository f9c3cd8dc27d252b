/** Wires one sidecar together from a config: client, balancer, health checks, metrics, reload, HTTP. */
import { getRequestListener, type HttpBindings } from '@hono/node-server';
import type { AddressInfo } from 'node:net';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { Hono } from 'hono';
import { HttpClient } from '../backends/http-client.ts';
import { Balancer } from '../balancer/balancer.ts';
import type { LbConfig } from '../config/model.ts';
import { ConfigError } from '../errors.ts';
import { HealthChecker } from '../health/health-checker.ts';
import { Canary } from '../canary/canary.ts';
import { createMetrics, type Metrics } from '../metrics/metrics.ts';
import { registerFlowMetrics } from '../metrics/flow-metrics.ts';
import { BackendReports } from '../load/backend-reports.ts';
import { ConfigReloader } from '../reload/config-reloader.ts';
import { ConfigFileWatcher } from '../reload/file-watcher.ts';
import type { SourceKind } from '../reload/config-source.ts';
import { sleep, systemClock, systemTimers, type Clock, type Random, type Timers } from '../../common/clock.ts';
import { createApp, createRerankRoute, type NodeRoute } from './app.ts';
import { ClientLimits, serverOptions } from './client-limits.ts';
import { InFlight, RequestTotals } from './in-flight.ts';
import { capConnections, connectionCap } from './connection-cap.ts';
import { getHeapStatistics } from 'node:v8';
import type { Logger } from '../../common/logger.ts';
import { followEndpoints, type EndpointSourceFactory } from '../discovery/followed-endpoints.ts';
import { SharedLimits } from '../limits/shared-limits.ts';
import { sidecarIdentity } from '../limits/sidecar-identity.ts';
import type { LeaseTiming } from '../limits/lease-timing.ts';

export interface SidecarOptions {
  readonly config: LbConfig;
  /** RERANKER_LOAD_BALANCER_ENABLED: false sends every call to the local backend. */
  readonly enabled: boolean;
  readonly logger: Logger;
  /** Where reloads read the config from; without it reloads are refused. */
  readonly load?: () => LbConfig;
  /** A config file to watch (its directory, to survive ConfigMap symlink swaps). */
  readonly watchPath?: string;
  /** Periodic re-read of the source (also picks up rotated key files); 0 turns it off. */
  readonly watchRecheckMs?: number;
  /** The source of truth, shown in /lb/config. */
  readonly sourceKind?: SourceKind;
  /** Log lines dropped because stdout could not keep up (exported as a metric). */
  readonly logDropped?: () => number;
  readonly adminToken?: string;
  /**
   * Where this sidecar reads the EndpointSlices of its discovery templates (a watch through the
   * Kubernetes API; called with what to do on a change). None: templates are ignored, with a warning.
   */
  readonly endpoints?: EndpointSourceFactory;
  /** Open client connections at most; default from V8's heap limit (connection-cap.ts). */
  readonly maxConnections?: number;
  readonly clock?: Clock;
  readonly timers?: Timers;
  readonly random?: Random;
  /** Pool-wide limit timings (tests shorten the window); default: a 60 s window. */
  readonly limitTiming?: LeaseTiming;
}

export interface Sidecar {
  readonly app: Hono<{ Bindings: HttpBindings }>;
  /** The rerank routes, answered on Node's request and response ahead of `app`. */
  readonly rerankRoute: NodeRoute;
  readonly balancer: Balancer;
  readonly metrics: Metrics;
  readonly reloader: ConfigReloader;
  readonly inFlight: InFlight;
  readonly clientLimits: ClientLimits;
  readonly canary: Canary;
  readonly sharedLimits: SharedLimits;
  /** Readiness goes false; calls keep being served. */
  beginShutdown(): void;
  close(): Promise<void>;
}

export function createSidecar(options: SidecarOptions): Sidecar {
  const clock = options.clock ?? systemClock;
  const timers = options.timers ?? systemTimers;
  const random = options.random ?? Math.random;
  const client = new HttpClient({ connectTimeoutMs: options.config.router.connectTimeoutMs });
  const clientLimits = new ClientLimits(options.config.router.server, clock, timers);
  let balancer: Balancer | undefined;
  const metrics = createMetrics({
    backends: () => balancer!.generation.backends,
    config: () => ({ hash: balancer!.generation.config.hash, generation: balancer!.generation.number }),
    logDropped: options.logDropped ?? (() => 0),
  });
  const flowObserver = registerFlowMetrics(metrics.registry, {
    flow: () => balancer!.flow,
    backends: () => balancer!.generation.backends,
  });
  const endpoints = followEndpoints(options.config, options.endpoints, options.logger, () =>
    applyConfig(endpoints.base),
  );
  balancer = new Balancer(endpoints.merged(options.config), {
    client,
    clock,
    timers,
    random,
    observer: metrics,
    flowObserver,
  });
  const health = new HealthChecker(options.config.router.healthCheck, { client, timers, random });
  const canary = new Canary({ clock, timers, logger: options.logger });
  const reports = new BackendReports({ client, clock, timers, random, limitsChanged: () => balancer!.refreshLimits() });
  // Redis is never part of readiness: a failing Redis only moves limits to their static share.
  const sharedLimits = new SharedLimits({
    clock,
    timers,
    logger: options.logger,
    sidecarId: sidecarIdentity(),
    registry: metrics.registry,
    timing: options.limitTiming,
    roomChanged: () => balancer!.flow.released(),
  });
  sharedLimits.sync(balancer.generation.backends, options.config);
  /** Health checks and the canary follow the backends of the current generation (a disabled sidecar has none to check). */
  function checkBackends(config: LbConfig): void {
    if (!options.enabled) return;
    // A ready endpoint is eligible at once: the kubelet's readiness probe has checked it.
    for (const b of balancer!.generation.backends)
      if (b.spec.endpoint === 'ready' && b.health === 'unknown') b.markUp();
    health.sync(balancer!.generation.backends, config.router.healthCheck);
    // The canary covers discovered endpoints too: it runs once per pool (its runner sidecar), so
    // its calls per backend do not grow with the sidecars.
    canary.sync(balancer!.generation.backends, config.router.canary);
    reports.sync(balancer!.generation.backends, config.router.loadSignal);
  }
  checkBackends(options.config);
  /** A new config or new endpoints: the merged config becomes the next generation. */
  function applyConfig(config: LbConfig): void {
    const { removed } = balancer!.apply(endpoints.merged(config));
    sharedLimits.sync(balancer!.generation.backends, config);
    const names = new Set(balancer!.generation.backends.map((b) => b.spec.name));
    metrics.forgetBackends(removed.map((b) => b.spec.name).filter((name) => !names.has(name)));
    clientLimits.apply(config.router.server);
    checkBackends(config);
  }
  const reloader = new ConfigReloader({
    load:
      options.load ??
      (() => {
        throw new ConfigError('(none)', ['(source): this sidecar was started without a config file to reload']);
      }),
    current: () => ({
      hash: balancer!.generation.config.hash,
      keyDigest: balancer!.generation.config.keyDigest,
      generation: balancer!.generation.number,
    }),
    apply(config) {
      endpoints.follow(config);
      applyConfig(config);
    },
    clock,
    logger: options.logger,
    count: (result) => metrics.reload(result),
  });
  const watcher =
    options.watchPath === undefined && options.sourceKind !== 'kubernetes'
      ? undefined
      : new ConfigFileWatcher({
          path: options.watchPath,
          timers,
          recheckMs: options.watchRecheckMs,
          onChange: (trigger) => reloader.reload(trigger),
        });
  watcher?.start();
  let shuttingDown = false;
  const inFlight = new InFlight();
  const appDeps = {
    balancer,
    logger: options.logger,
    clock,
    enabled: options.enabled,
    startedAt: clock.wallNow(),
    metrics,
    totals: new RequestTotals(),
    inFlight,
    clientLimits,
    reloader,
    adminToken: options.adminToken,
    sourceKind: options.sourceKind ?? (options.watchPath === undefined ? 'defaults' : 'file'),
    endpoints,
    isShuttingDown: () => shuttingDown,
    canary,
  };
  const app = createApp(appDeps);
  const rerankRoute = createRerankRoute(appDeps);
  return {
    app,
    rerankRoute,
    balancer,
    metrics,
    reloader,
    inFlight,
    clientLimits,
    canary,
    sharedLimits,
    beginShutdown() {
      shuttingDown = true;
    },
    async close() {
      shuttingDown = true;
      watcher?.stop();
      endpoints.stop();
      clientLimits.stop();
      health.stop();
      canary.stop();
      reports.stop();
      await sharedLimits.close();
      balancer!.close();
      await client.close();
    },
  };
}

export interface RunningSidecar {
  readonly sidecar: Sidecar;
  readonly server: Server;
  readonly url: string;
  /**
   * Graceful stop: readiness fails at once; after `delayMs` (time for endpoint controllers to
   * notice) no new connections are accepted; calls in flight get up to `graceMs` to finish.
   */
  shutdown(delayMs: number, graceMs: number): Promise<{ drained: boolean }>;
  stop(): Promise<void>;
}

/** Serves a sidecar over HTTP on `port` (0: any free port). */
export function startSidecar(options: SidecarOptions & { port: number; hostname?: string }): Promise<RunningSidecar> {
  const sidecar = createSidecar(options);
  const timers = options.timers ?? systemTimers;
  return new Promise((resolve, reject) => {
    const limits = sidecar.clientLimits;
    const hostname = options.hostname ?? '127.0.0.1';
    const honoListener = getRequestListener(sidecar.app.fetch, { hostname });
    const rerankRoute = sidecar.rerankRoute;
    const server = createServer(serverOptions(options.config.router.server), function route(req, res) {
      if (!rerankRoute(req, res)) void honoListener(req, res);
    });
    server.listen(options.port, hostname, () => {
      const info = server.address() as AddressInfo;
      const host = info.family === 'IPv6' ? `[${info.address}]` : info.address;
      const closed = () => new Promise<void>((done) => server.close(() => done()));
      resolve({
        sidecar,
        server,
        url: `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${info.port}`,
        async shutdown(delayMs, graceMs) {
          sidecar.beginShutdown();
          await sleep(timers, delayMs);
          const stopped = closed();
          server.closeIdleConnections();
          let drained = false;
          await Promise.race([sidecar.inFlight.idle().then(() => (drained = true)), sleep(timers, graceMs)]);
          server.closeAllConnections();
          await stopped;
          await sidecar.close();
          return { drained };
        },
        async stop() {
          const stopped = closed();
          server.closeAllConnections();
          await stopped;
          await sidecar.close();
        },
      });
    });
    const inFlight = sidecar.inFlight;
    limits.attach(server);
    capConnections(
      server,
      options.maxConnections ?? connectionCap(getHeapStatistics().heap_size_limit),
      options.logger,
      options.clock ?? systemClock,
    );
    server.on('request', function trackResponse(_req, res: ServerResponse) {
      inFlight.enter();
      limits.track(res);
      res.once('close', function leave() {
        limits.untrack(res);
        inFlight.leave();
      });
    });
    server.once('error', reject);
  });
}
