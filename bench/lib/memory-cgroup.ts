/**
 * A memory cgroup of its own for one benchmarked process (v1 or v2, needs root): a limit, the
 * working set as the kubelet computes it (usage - inactive file pages), and the OOM kills.
 */
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const V2 = existsSync('/sys/fs/cgroup/cgroup.controllers');

export class MemoryCgroup {
  readonly dir: string;

  constructor(name: string, limitBytes: number) {
    this.dir = V2 ? join('/sys/fs/cgroup', name) : join('/sys/fs/cgroup/memory', name);
    if (existsSync(this.dir)) rmdirSync(this.dir);
    mkdirSync(this.dir);
    if (V2) {
      writeFileSync(join(this.dir, 'memory.max'), String(limitBytes));
      try {
        writeFileSync(join(this.dir, 'memory.swap.max'), '0');
      } catch {
        // no swap accounting: no swap to fall back on either
      }
    } else {
      writeFileSync(join(this.dir, 'memory.limit_in_bytes'), String(limitBytes));
      try {
        writeFileSync(join(this.dir, 'memory.memsw.limit_in_bytes'), String(limitBytes));
      } catch {
        // swap accounting off
      }
      writeFileSync(join(this.dir, 'memory.swappiness'), '0');
    }
  }

  /** A shell prefix that moves itself into the cgroup and execs the command (`sh -c SCRIPT cmd args...`). */
  wrap(command: string, args: readonly string[]): [string, string[]] {
    return ['sh', ['-c', `echo $$ > ${join(this.dir, 'cgroup.procs')} && exec "$0" "$@"`, command, ...args]];
  }

  #read(file: string): string {
    return readFileSync(join(this.dir, file), 'utf8');
  }

  #stat(key: string): number {
    return Number(new RegExp(`^${key} (\\d+)$`, 'm').exec(this.#read('memory.stat'))?.[1] ?? 0);
  }

  /** Usage minus inactive file pages: what the kubelet evicts on and what the limit is compared to. */
  workingSetBytes(): number {
    const usage = Number(this.#read(V2 ? 'memory.current' : 'memory.usage_in_bytes'));
    const inactiveFile = V2 ? this.#stat('inactive_file') : this.#stat('total_inactive_file');
    return Math.max(0, usage - inactiveFile);
  }

  oomKills(): number {
    const text = this.#read(V2 ? 'memory.events' : 'memory.oom_control');
    return Number(/^oom_kill (\d+)$/m.exec(text)?.[1] ?? 0);
  }

  /** Removes the cgroup; its processes must have exited. */
  remove(): void {
    for (let i = 0; i < 50; i++) {
      try {
        rmdirSync(this.dir);
        return;
      } catch {
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
      }
    }
  }
}
