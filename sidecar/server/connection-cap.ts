/**
 * A bound on open client connections, derived from V8's heap limit (which the launcher derives
 * from the container's memory limit). When the sidecar falls behind — CPU-throttled, a burst —
 * open-loop clients keep opening connections, each holding a call's buffers, parser and objects
 * (~60 KB of process memory with a 7 KB call in flight, measured under a memory cgroup, and its
 * parsed call, backend request and answer in V8's heap); without a bound the pod's memory follows
 * the backlog until the kernel kills it, or V8 aborts at its heap limit. Over the cap, Node closes new connections at once: those
 * clients see a reset and retry; every call already accepted is still answered.
 */
import type { Server } from 'node:net';
import type { Clock } from '../../common/clock.ts';
import type { Logger } from '../../common/logger.ts';

/** What one connection with a call in flight may cost, with room to spare (~60 KB measured). */
export const BYTES_PER_CONNECTION = 64 * 1024;
/** The sidecar's own live heap before any call (13-16 MB measured idle): not for connections. */
const BASE_HEAP_BYTES = 16 * 2 ** 20;
/** Never fewer: a small container still serves an application's connection pool. */
export const MIN_CONNECTIONS = 32;
/** Without a memory limit, about what a process's default file descriptor limit allows. */
export const MAX_CONNECTIONS = 10_000;
const WARN_EVERY_MS = 10_000;

/**
 * A quarter of the heap beyond the sidecar's own for connections in flight: each also costs memory
 * outside the heap (socket buffers, the HTTP parser, the backend client's), which the launcher's
 * reserve for Node must absorb. Measured by make footprint under a CPU-starved backlog: 96
 * connections aborted V8 at a 64 MiB limit's 18 MiB old space (now 32); 224 at 96 MiB and 352 at
 * 128 MiB stayed below the limit (now 160 and 288). Too low a cap turns a short stall into resets.
 */
export function connectionCap(heapLimitBytes: number): number {
  return Math.max(
    MIN_CONNECTIONS,
    Math.min(MAX_CONNECTIONS, Math.floor((heapLimitBytes - BASE_HEAP_BYTES) / 4 / BYTES_PER_CONNECTION)),
  );
}

/** Applies the cap to `server` and logs refused connections (one line per 10 s at most). */
export function capConnections(server: Server, cap: number, logger: Logger, clock: Clock): { refused: () => number } {
  server.maxConnections = cap;
  let refused = 0;
  let reported = 0;
  let lastWarning = -Infinity;
  server.on('drop', () => {
    refused++;
    const now = clock.now();
    if (now - lastWarning < WARN_EVERY_MS) return;
    lastWarning = now;
    logger.warn(
      { max_connections: cap, refused_since_last_warning: refused - reported },
      'connections refused: at the cap derived from the memory limit',
    );
    reported = refused;
  });
  return { refused: () => refused };
}
