import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/** Ports handed out by this process, never handed out twice. */
const handedOut = new Set<number>();

/**
 * The lowest port the kernel gives to outgoing connections. A port the kernel picked with
 * listen(0) lies in that range, so any connect() (a kubectl beside the test, a load generator)
 * can take it between the check here and the child process binding it: an operator on a loaded
 * CI machine then died of EADDRINUSE. Ports below the range are only ever taken by a bind.
 */
function ephemeralLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    if (Number.isInteger(low) && low > 12_000) return low;
  } catch {
    // not Linux
  }
  return 49_152; // the IANA dynamic range; also when the range starts too low to stay under
}

// Above 20,000 lie the real node's fixed ports (e2e/node: 20248-26443) and the NodePort range
// (30000-32767), which kube-proxy binds.
const LOW = 10_000;
const HIGH = Math.min(20_000, ephemeralLow()); // exclusive

/** Whether a listener could bind the port on every address (0.0.0.0 conflicts with any listener on it). */
async function bindable(port: number): Promise<boolean> {
  const server = createServer();
  server.listen(port, '0.0.0.0');
  try {
    await once(server, 'listening');
    return true;
  } catch {
    return false;
  } finally {
    server.close();
  }
}

/**
 * A TCP port free on every address right now, below the kernel's range for outgoing connections
 * and never one this process handed out before. Chosen at random, so test processes running side
 * by side rarely try the same one.
 */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = LOW + Math.floor(Math.random() * (HIGH - LOW));
    if (handedOut.has(port)) continue;
    handedOut.add(port);
    if (await bindable(port)) return port;
  }
}
