/**
 * How big V8's heap may grow inside a container memory limit. Pure: the limit in, V8 flags out.
 *
 * The kernel kills the whole process when its cgroup's working set reaches the limit; V8 only
 * collects harder when its heap reaches the limits it was given. So the heap limits must leave
 * room for everything that is not V8 heap: Node itself (its binary's pages, the JIT's code,
 * malloc'd buffers, sockets) plus some slack for the backend and client buffers in flight. With
 * `--max-old-space-size-percentage=75` alone, a 96 MiB limit gave the old space 72 MiB and the
 * young generation 24 MiB on top of a ~40 MiB baseline: killed under load instead of collecting.
 */

const MIB = 2 ** 20;

/** What the process needs besides V8's heap (measured idle and under load by `make footprint`). */
export const OFF_HEAP_MIB = 40;
/** A young generation of 3 semi-spaces (V8: to, from, new large objects). */
const YOUNG_PER_SEMI = 3;
/** The semi-space the sidecar ships with when memory is plentiful (docs/performance.md: 13% less CPU per call than 2 MB). */
export const MAX_SEMI_MIB = 8;
/** Below this old space V8 runs full collections back to back: the limit is too small to serve. */
export const MIN_OLD_MIB = 16;

/**
 * glibc malloc arenas under a memory limit. By default glibc gives each thread that allocates its
 * own arena (up to 8 per core), and Node's threads (V8's compiler and GC helpers, libuv's pool)
 * each grow one: at a 64 MiB limit the first seconds of load took the sidecar's RSS from 51 to
 * 62 MiB in 140 ms and the kernel killed it, every time; with 2 arenas it survived every run, and
 * at 96 MiB and 1,000 req/s the peak fell from 86.6 to 76.6 MiB (make footprint).
 */
const MALLOC_ARENAS = 2;

export interface HeapPlan {
  /** Flags to start Node with; empty when the user's own flags decide. */
  readonly flags: readonly string[];
  /** Environment for the new process (MALLOC_ARENA_MAX under a limit, unless the user set it). */
  readonly env: Readonly<Record<string, string>>;
  /** One line for the start-up log. */
  readonly summary: string;
}

/**
 * `limitBytes`: the cgroup's memory limit, undefined when there is none. `userFlags`: what the
 * operator of the pod set (NODE_OPTIONS, the command line); a heap size given there wins.
 */
export function heapPlan(
  limitBytes: number | undefined,
  userFlags: readonly string[],
  userEnv: Readonly<Record<string, string | undefined>> = {},
): HeapPlan {
  const userSemi = userFlags.some((f) => f.startsWith('--max-semi-space-size'));
  const userOld = userFlags.some((f) => f.startsWith('--max-old-space-size'));
  if (limitBytes === undefined) {
    return {
      flags: userSemi ? [] : [`--max-semi-space-size=${MAX_SEMI_MIB}`],
      env: {},
      summary: 'no memory limit: V8 sizes the old space from the machine',
    };
  }
  const limitMib = Math.floor(limitBytes / MIB);
  const room = limitMib - OFF_HEAP_MIB;
  // An eleventh of the room per semi-space: the shipped 8 MB from 128 MiB up, smaller below (more
  // scavenges, each cheaper), never under 1 MB.
  const semi = Math.max(1, Math.min(MAX_SEMI_MIB, Math.floor(room / 11)));
  const old = Math.max(MIN_OLD_MIB, room - YOUNG_PER_SEMI * semi);
  const flags: string[] = [];
  if (!userSemi) flags.push(`--max-semi-space-size=${semi}`);
  if (!userOld) flags.push(`--max-old-space-size=${old}`);
  const tight =
    room - YOUNG_PER_SEMI * semi < MIN_OLD_MIB
      ? ` (below ${OFF_HEAP_MIB + MIN_OLD_MIB + YOUNG_PER_SEMI} MiB the heap cannot shrink further: expect OOM kills under load)`
      : '';
  const arenas = userEnv.MALLOC_ARENA_MAX ?? String(MALLOC_ARENAS);
  return {
    flags,
    env: userEnv.MALLOC_ARENA_MAX === undefined ? { MALLOC_ARENA_MAX: arenas } : {},
    summary: `memory limit ${limitMib} MiB: old space ${userOld ? 'as set' : `${old} MiB`}, semi-space ${userSemi ? 'as set' : `${semi} MiB`}, ${OFF_HEAP_MIB} MiB left for Node itself, ${arenas} malloc arena(s)${tight}`,
  };
}
