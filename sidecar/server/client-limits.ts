/**
 * Limits towards clients, so a slow or stuck client cannot hold a connection, a call slot or
 * memory: Node's own header and request timers (checked every second), the keep-alive idle time,
 * and a send stall limit — an answer that makes no progress for `sendTimeoutMs` because the
 * client does not read it is cut. One sweep timer for all responses; nothing per request but a
 * set entry.
 */
import type { Server, ServerResponse } from 'node:http';
import type { ServerLimits } from '../config/model.ts';
import type { Clock, Timers } from '../../common/clock.ts';

/** How often stalled answers are looked for (and Node checks its header/request timers). */
export const SWEEP_MS = 1000;

interface Progress {
  /** Bytes queued at the last sweep. */
  bytes: number;
  since: number;
}

/** Options for `http.createServer` that enforce `limits` from the first connection. */
export function serverOptions(limits: ServerLimits): {
  headersTimeout: number;
  requestTimeout: number;
  keepAliveTimeout: number;
  connectionsCheckingInterval: number;
} {
  const requestTimeout = Math.max(limits.bodyTimeoutMs, limits.headerTimeoutMs);
  return {
    headersTimeout: limits.headerTimeoutMs,
    requestTimeout,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    connectionsCheckingInterval: SWEEP_MS,
  };
}

export class ClientLimits {
  readonly #responses = new Map<ServerResponse, Progress | undefined>();
  readonly #clock: Clock;
  readonly #timers: Timers;
  #limits: ServerLimits;
  #server: Server | undefined;
  #timer: unknown;
  /** Answers cut because the client stopped reading. */
  stalledCut = 0;

  constructor(limits: ServerLimits, clock: Clock, timers: Timers) {
    this.#limits = limits;
    this.#clock = clock;
    this.#timers = timers;
  }

  attach(server: Server): void {
    this.#server = server;
    this.apply(this.#limits);
    this.#schedule();
  }

  /** New limits (a reload): Node's timers read these properties for every check. */
  apply(limits: ServerLimits): void {
    this.#limits = limits;
    const server = this.#server;
    if (server === undefined) return;
    const options = serverOptions(limits);
    server.headersTimeout = options.headersTimeout;
    server.requestTimeout = options.requestTimeout;
    server.keepAliveTimeout = options.keepAliveTimeout;
  }

  track(res: ServerResponse): void {
    this.#responses.set(res, undefined);
  }

  untrack(res: ServerResponse): void {
    this.#responses.delete(res);
  }

  /** Cuts answers whose bytes have not moved for the send timeout. */
  sweep(): void {
    const now = this.#clock.now();
    for (const [res, progress] of this.#responses) {
      // Bytes still queued in the process: they shrink while the client reads.
      const bytes = res.socket?.writableLength ?? 0;
      if (!res.headersSent || res.writableFinished || bytes === 0) {
        if (progress !== undefined) this.#responses.set(res, undefined);
        continue;
      }
      if (progress === undefined || progress.bytes !== bytes) {
        this.#responses.set(res, { bytes, since: now });
      } else if (now - progress.since >= this.#limits.sendTimeoutMs) {
        this.stalledCut++;
        this.#responses.delete(res);
        res.destroy();
      }
    }
  }

  #schedule(): void {
    this.#timer = this.#timers.setTimeout(() => {
      this.sweep();
      this.#schedule();
    }, SWEEP_MS);
  }

  stop(): void {
    this.#timers.clearTimeout(this.#timer);
  }
}
