/**
 * A real redis-server (Debian's package) for tests: started on a free loopback port, no
 * persistence (a restart is a flush), stopped with the test. `pause` (SIGSTOP) makes it a server
 * that accepts connections and never answers; `kill` and `start` again make a restart.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { connect } from 'node:net';
import { freePort } from './ports.ts';

export interface RedisServer {
  readonly port: number;
  readonly url: string;
  /** (Re)starts it on the same port. */
  start(): Promise<void>;
  /** SIGKILL: gone at once, its data with it. */
  kill(): Promise<void>;
  /** SIGSTOP / SIGCONT: connections stay open (and new ones are accepted), nothing is answered. */
  pause(): void;
  resume(): void;
  close(): Promise<void>;
}

async function answersPing(port: number, password: string | undefined): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let out = '';
    socket.setTimeout(500, () => {
      socket.destroy();
      resolve(false);
    });
    socket.on('error', () => resolve(false));
    socket.on('connect', () => socket.write(`${password === undefined ? '' : `AUTH ${password}\r\n`}PING\r\n`));
    socket.on('data', (d) => {
      out += d.toString();
      if (out.includes('PONG')) {
        socket.destroy();
        resolve(true);
      }
    });
  });
}

export async function startRedis(options: { password?: string } = {}): Promise<RedisServer> {
  const port = await freePort();
  let child: ChildProcess | undefined;
  const server: RedisServer = {
    port,
    url: `redis://127.0.0.1:${port}`,
    async start() {
      const args = [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--protected-mode',
        'no',
        '--loglevel',
        'warning',
      ];
      if (options.password !== undefined) args.push('--requirepass', options.password);
      child = spawn('redis-server', args, { stdio: 'ignore' });
      for (let i = 0; i < 100; i++) {
        if (await answersPing(port, options.password)) return;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error(`redis-server did not start on port ${port}`);
    },
    async kill() {
      const c = child;
      if (c === undefined || c.exitCode !== null || c.signalCode !== null) return;
      c.kill('SIGCONT');
      const exited = once(c, 'exit');
      c.kill('SIGKILL');
      await exited;
    },
    pause() {
      child?.kill('SIGSTOP');
    },
    resume() {
      child?.kill('SIGCONT');
    },
    async close() {
      await server.kill();
    },
  };
  await server.start();
  return server;
}
