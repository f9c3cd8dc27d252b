/** The sidecar as a child process, for environment, signal and file-watch behaviour. */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { after } from 'node:test';
import { eventually } from './harness.ts';

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

/**
 * Starts `node sidecar/main.ts` (or `program`, e.g. the launcher, with `nodeArgs` before it); with
 * `logFile`, its stdout (the JSON log) goes to that file.
 * Without a `port` it listens on one the kernel picks (0), and `url` is read from its 'sidecar
 * listening' line: a port found free beforehand may be taken by another process before a slow
 * start binds it (seen on a loaded machine shared by several test suites).
 */
export async function sidecarProcess(
  env: Record<string, string>,
  options: { logFile?: string; port?: number; program?: string; nodeArgs?: string[] } = {},
): Promise<Proc> {
  const port = options.port ?? 0;
  const logFd = options.logFile === undefined ? undefined : openSync(options.logFile, 'a');
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), options.program ?? 'sidecar/main.ts'], {
    cwd: root,
    env: { PATH: process.env.PATH, RERANKER_LB_PORT: String(port), RERANKER_LB_HOST: '127.0.0.1', ...env },
    stdio: ['ignore', logFd ?? 'pipe', 'pipe'],
  });
  if (logFd !== undefined) closeSync(logFd);
  children.push(child);
  let out = '';
  let err = '';
  const logFile = options.logFile;
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const lines = () =>
    (logFile === undefined ? out : readFileSync(logFile, 'utf8'))
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, any>);
  return {
    child,
    lines,
    stderr: () => err,
    get url() {
      if (port !== 0) return `http://127.0.0.1:${port}`;
      const url = lines().find((l) => l.msg === 'sidecar listening')?.url;
      assert.ok(typeof url === 'string', 'the sidecar is not listening yet (await listening(proc) first)');
      return url;
    },
  };
}

export async function listening(proc: Proc): Promise<void> {
  await eventually(
    () => proc.lines().some((l) => l.msg === 'sidecar listening') || proc.child.exitCode !== null,
    10_000,
    'the sidecar to listen',
  );
  assert.equal(proc.child.exitCode, null, proc.stderr());
}
