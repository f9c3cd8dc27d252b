/** Operator and sidecar processes for e2e tests, with their logs kept for assertions. */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { ROOT } from './cluster.ts';

export interface Proc {
  readonly name: string;
  readonly child: ChildProcess;
  lines(): Record<string, any>[];
  text(): string;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

const running: Proc[] = [];

export function startProcess(name: string, script: string, env: Record<string, string>): Proc {
  const child = spawn(process.execPath, [script], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  // A process that ends without being stopped is why the tests after it fail: its last lines go to
  // the test's output, so a CI log says what happened.
  child.once('close', (code, signal) => {
    if (child.killed) return; // stopped by stop()
    const tail = out.trimEnd().split('\n').slice(-30).join('\n');
    process.stderr.write(
      `# ${name} (${script}) exited on its own: code ${code}, signal ${signal}; its last lines:\n${tail}\n`,
    );
  });
  const proc: Proc = {
    name,
    child,
    lines: () =>
      out
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, any>),
    text: () => out,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill(signal);
      await once(child, 'exit');
    },
  };
  running.push(proc);
  return proc;
}

export async function stopAll(): Promise<void> {
  await Promise.all(running.splice(0).map((p) => p.stop('SIGKILL')));
}

export { eventually } from '../../test/support/eventually.ts';
