/** Wires one sidecar together from a config: client, balancer, health checks, HTTP app. */
import { serve } from '@hono/node-server';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import type { Hono } from 'hono';
import { HttpClient } from '../backends/http-client.ts';
import { Balancer } from '../balancer/balancer.ts';
import type { LbConfig } from '../config/model.ts';
import { HealthChecker } from '../health/health-checker.ts';
import { systemClock, systemTimers, type Clock, type Random, type Timers } from '../util/clock.ts';
import { createApp } from './app.ts';
import type { Logger } from './logger.ts';

export interface SidecarOptions {
  readonly config: LbConfig;
  /** RERANKER_LOAD_BALANCER_ENABLED: false sends every call to the local backend. */
  readonly enabled: boolean;
  readonly logger: Logger;
  readonly clock?: Clock;
  readonly timers?: Timers;
  readonly random?: Random;
}

export interface Sidecar {
  readonly app: Hono;
  readonly balancer: Balancer;
  /** Swaps in a new config (reload); backends present in both keep their state. */
  applyConfig(config: LbConfig): void;
  /** Readiness goes false; the server keeps serving calls already accepted. */
  beginShutdown(): void;
  close(): Promise<void>;
}

export function createSidecar(options: SidecarOptions): Sidecar {
  const clock = options.clock ?? systemClock;
  const timers = options.timers ?? systemTimers;
  const random = options.random ?? Math.random;
  const client = new HttpClient();
  const balancer = new Balancer(options.config, { client, clock, timers, random });
  const health = new HealthChecker(options.config.router.healthCheck, { client, timers, random });
  if (options.enabled) health.sync(balancer.generation.backends, options.config.router.healthCheck);
  let ready = true;
  const app = createApp({
    balancer,
    logger: options.logger,
    clock,
    enabled: options.enabled,
    startedAt: clock.wallNow(),
    isReady: () => ready,
  });
  return {
    app,
    balancer,
    applyConfig(config) {
      balancer.apply(config);
      if (options.enabled) health.sync(balancer.generation.backends, config.router.healthCheck);
    },
    beginShutdown() {
      ready = false;
    },
    async close() {
      ready = false;
      health.stop();
      balancer.close();
      await client.close();
    },
  };
}

export interface RunningSidecar {
  readonly sidecar: Sidecar;
  readonly server: Server;
  readonly url: string;
  stop(): Promise<void>;
}

/** Serves a sidecar over HTTP on `port` (0: any free port). */
export function startSidecar(options: SidecarOptions & { port: number; hostname?: string }): Promise<RunningSidecar> {
  const sidecar = createSidecar(options);
  return new Promise((resolve, reject) => {
    const server = serve({ fetch: sidecar.app.fetch, port: options.port, hostname: options.hostname ?? '127.0.0.1' }, (info: AddressInfo) => {
      const host = info.family === 'IPv6' ? `[${info.address}]` : info.address;
      resolve({
        sidecar,
        server: server as Server,
        url: `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${info.port}`,
        async stop() {
          await new Promise<void>((done) => {
            (server as Server).close(() => done());
            (server as Server).closeIdleConnections();
          });
          await sidecar.close();
        },
      });
    }) as Server;
    server.once('error', reject);
  });
}
