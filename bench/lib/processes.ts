/** Child processes of a benchmark run: started, CPU-metered from /proc, always stopped. */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, readdirSync } from 'node:fs';

const CLOCK_TICKS = 100; // USER_HZ on Linux

export interface Managed {
  readonly name: string;
  readonly child: ChildProcess;
  output(): string;
  /** User + system CPU seconds of the process and its descendants. */
  cpuSeconds(): number;
  rssBytes(): number;
  stop(): Promise<void>;
}

const all: Managed[] = [];

function descendants(pid: number): number[] {
  const out = [pid];
  try {
    for (const task of readdirSync(`/proc/${pid}/task`)) {
      const children = readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim();
      for (const c of children.split(/\s+/).filter(Boolean)) out.push(...descendants(Number(c)));
    }
  } catch {
    // gone
  }
  return out;
}

function cpuOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return 0;
  }
}

export function start(
  name: string,
  command: string,
  args: readonly string[],
  env: Record<string, string> = {},
  cwd?: string,
): Managed {
  const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], cwd });
  let out = '';
  const keep = (d: Buffer) => {
    out += d.toString();
    if (out.length > 200_000) out = out.slice(-100_000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const managed: Managed = {
    name,
    child,
    output: () => out,
    cpuSeconds: () => descendants(child.pid!).reduce((sum, pid) => sum + cpuOf(pid), 0),
    rssBytes: () => {
      try {
        return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;
      } catch {
        return 0;
      }
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGKILL');
      await once(child, 'exit');
    },
  };
  all.push(managed);
  return managed;
}

export async function stopAll(): Promise<void> {
  await Promise.all(all.splice(0).map((m) => m.stop()));
}

/** Waits until `url` answers (any HTTP status) or throws after `ms`. */
export async function waitForHttp(
  url: string,
  ms = 30_000,
  method: 'GET' | 'POST' = 'GET',
  body?: string,
): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    try {
      const res = await fetch(url, {
        method,
        body,
        headers: body === undefined ? undefined : { 'content-type': 'application/json' },
      });
      await res.text();
      if (res.status < 500) return;
    } catch {
      // not yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} did not answer within ${ms} ms`);
}
