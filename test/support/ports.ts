import { once } from 'node:events';
import { createServer } from 'node:net';

/** Ports handed out by this process: the kernel may offer a port just closed again, to the next caller. */
const handedOut = new Set<number>();

/** A TCP port free on loopback right now, never one this process handed out before. */
export async function freePort(): Promise<number> {
  for (;;) {
    const server = createServer().listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as { port: number }).port;
    server.close();
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
}
