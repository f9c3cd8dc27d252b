/**
 * The memory limit of the cgroup this process runs in, cgroup v2 or v1, as the kernel enforces it:
 * the smallest limit on the way up (a pod's limit sits on the pod's cgroup, a container's on its
 * own). Reads files only; `read` is injected so tests can lay out a cgroup tree of their own.
 */

/** Returns a file's text, or undefined when it cannot be read. */
export type ReadText = (path: string) => string | undefined;

/** v1 reports "no limit" as a huge page-rounded number (2^63 - 4096 on x86-64). */
const UNLIMITED = 2 ** 60;

function positive(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text.trim());
  return Number.isFinite(value) && value > 0 && value < UNLIMITED ? value : undefined;
}

function min(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return Math.min(a, b);
}

/** The paths of this process in each hierarchy, from /proc/self/cgroup ("0::/a/b", "4:memory:/a/b"). */
function ownPaths(procSelfCgroup: string): { v2?: string; v1?: string } {
  const out: { v2?: string; v1?: string } = {};
  for (const line of procSelfCgroup.split('\n')) {
    const [id, controllers, path] = line.split(':', 3);
    if (path === undefined) continue;
    if (id === '0' && controllers === '') out.v2 = path;
    else if (controllers!.split(',').includes('memory')) out.v1 = path;
  }
  return out;
}

/** v2: memory.max of the process's cgroup and each ancestor below the mount. */
function v2Limit(read: ReadText, path: string): number | undefined {
  let limit: number | undefined;
  const parts = path.split('/').filter((p) => p !== '');
  for (let i = parts.length; i >= 0; i--) {
    const dir = ['/sys/fs/cgroup', ...parts.slice(0, i)].join('/');
    limit = min(limit, positive(read(`${dir}/memory.max`)?.replace(/^max$/m, '')));
  }
  return limit;
}

/** v1: memory.stat's hierarchical_memory_limit already takes the ancestors into account. */
function v1Limit(read: ReadText, path: string): number | undefined {
  // Inside a container the memory hierarchy is usually mounted at the container's own cgroup.
  for (const dir of [`/sys/fs/cgroup/memory${path === '/' ? '' : path}`, '/sys/fs/cgroup/memory']) {
    const stat = read(`${dir}/memory.stat`);
    if (stat === undefined) continue;
    const hierarchical = /^hierarchical_memory_limit (\d+)$/m.exec(stat)?.[1];
    return min(positive(hierarchical), positive(read(`${dir}/memory.limit_in_bytes`)));
  }
  return undefined;
}

/** The enforced memory limit in bytes, or undefined when there is none (or no cgroup to read). */
export function memoryLimitBytes(read: ReadText): number | undefined {
  const paths = ownPaths(read('/proc/self/cgroup') ?? '');
  if (read('/sys/fs/cgroup/cgroup.controllers') !== undefined) return v2Limit(read, paths.v2 ?? '/');
  return v1Limit(read, paths.v1 ?? '/');
}
