/** The sidecar as a child process, for environment, signal and file-watch behaviour. */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after } from 'node:test';
import { eventually } from './harness.ts';
import { freePort } from './ports.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const children: ChildProcess[] = [];
after(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
});


export interface Proc {
  readonly child: ChildProcess;
  readonly lines: () => Record<string, any>[];
  readonly stderr: () => string;
  readonly url: string;
}

export async function sidecarProcess(env: Record<string, string>): Promise<Proc> {
  const port = await freePort();
  const child = spawn(process.execPath, ['sidecar/main.ts'], {
    cwd: root,
    env: { PATH: process.env.PATH, RERANKER_LB_PORT: String(port), RERANKER_LB_HOST: '127.0.0.1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const lines = () => out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, any>);
  return { child, lines, stderr: () => err, url: `http://127.0.0.1:${port}` };
}

export async function listening(proc: Proc): Promise<void> {
  await eventually(() => proc.lines().some((l) => l.msg === 'sidecar listening') || proc.child.exitCode !== null, 10_000, 'the sidecar to listen');
  assert.equal(proc.child.exitCode, null, proc.stderr());
}

