/**
 * Asks each sidecar pod which config it serves (GET /lb/config: `hash`, the settings, and
 * `endpoints.digest`, the EndpointSlices it has merged) and reports the pods that differ from the
 * wanted hash (and, where sidecars merge endpoints themselves, the wanted digest), by name. At most
 * `concurrency` requests are in flight per call; each has a short timeout.
 */
import { Agent, request } from 'undici';
import type { RunnerRound } from '../canary/plan.ts';

export interface SidecarPod {
  readonly name: string;
  readonly ip: string;
}

export interface SyncReport {
  readonly total: number;
  readonly synced: number;
  /** The pods that differ, sorted: "<pod> serves <hash12> (want <hash12>)" or "<pod> unreachable (<code>)". */
  readonly differing: readonly string[];
  /** Backends some sidecar's model-consistency canary judged inconsistent, sorted, each once. */
  readonly inconsistent: readonly string[];
  /** The last rounds of sidecars that run canary rounds themselves, by pod (none: absent); the plan takes its runner's. */
  readonly runnerRounds?: ReadonlyMap<string, RunnerRound>;
  /** When endpoints were wanted: sidecars that merged exactly them, and the others ("<pod> has <digest12> (want <digest12>)"). */
  readonly endpoints?: { readonly synced: number; readonly differing: readonly string[] };
}

/** What a sidecar says of itself: the config it serves, and the backends its canary distrusts. */
export interface SidecarView {
  readonly hash: string | undefined;
  /** The digest of the EndpointSlices it merged (discoveryMode sidecar), if it reports one. */
  readonly endpoints?: string | undefined;
  readonly inconsistent: readonly string[];
  /** Set when it runs canary rounds itself (the plan's runner, or its own) and has finished one. */
  readonly runnerRound?: RunnerRound;
}

/** Asks one sidecar; throws when it cannot be asked. */
export type AskSidecar = (pod: SidecarPod, port: number, timeoutMs: number) => Promise<SidecarView>;

/** Backend names as a sidecar reports them: strings only, bounded (the answer is not trusted). */
function namesOf(value: unknown): string[] {
  if (!Array.isArray(value)) return [];
  return value.filter((v): v is string => typeof v === 'string' && v.length > 0 && v.length <= 253).slice(0, 64);
}

/** Asks sidecars over HTTP through its own connection pool; `close` ends it (the controller's stop). */
export interface HttpSidecarAsker {
  readonly ask: AskSidecar;
  close(): Promise<void>;
}

/**
 * Connecting gives up at `connectTimeoutMs` too (a pod whose address drops packets, e.g. on a dead
 * node, took undici's default 10 s: an abort signal does not reach a request still waiting for its
 * connection), then one deadline covers the answer (undici's headersTimeout fires up to 0.5 s late).
 */
export function httpSidecarAsker(connectTimeoutMs: number): HttpSidecarAsker {
  const agent = new Agent({ connect: { timeout: connectTimeoutMs } });
  return {
    close: () => agent.close(),
    async ask(pod, port, timeoutMs) {
      const host = pod.ip.includes(':') ? `[${pod.ip}]` : pod.ip;
      try {
        const res = await request(`http://${host}:${port}/lb/config`, {
          dispatcher: agent,
          signal: AbortSignal.timeout(timeoutMs),
        });
        if (res.statusCode !== 200) {
          await res.body.dump();
          throw Object.assign(new Error(`HTTP ${res.statusCode}`), { code: `HTTP_${res.statusCode}` });
        }
        const body = (await res.body.json()) as {
          hash?: unknown;
          inconsistent_backends?: unknown;
          canary?: { role?: unknown; last_round_at?: unknown } | null;
          endpoints?: { digest?: unknown };
        };
        const inconsistent = namesOf(body.inconsistent_backends);
        // A sidecar that measures (the runner, or one running its own canary: an older or hand-wired one).
        const measures = body.canary?.role === 'runner' || body.canary?.role === 'own';
        const round =
          measures && typeof body.canary?.last_round_at === 'string'
            ? { inconsistent, at: body.canary.last_round_at.slice(0, 64) }
            : undefined;
        const digest = body.endpoints?.digest;
        return {
          hash: typeof body.hash === 'string' ? body.hash : undefined,
          endpoints: typeof digest === 'string' && digest.length <= 64 ? digest : undefined,
          inconsistent,
          ...(round === undefined ? {} : { runnerRound: round }),
        };
      } catch (error) {
        if ((error as Error).name === 'TimeoutError')
          throw Object.assign(new Error(`no answer in ${timeoutMs} ms`), { code: 'TIMEOUT' });
        throw error;
      }
    },
  };
}

export interface CheckOptions {
  readonly ask: AskSidecar;
  readonly timeoutMs?: number;
  readonly concurrency?: number;
  /**
   * No new sidecar is asked once this much time has passed (default 5 s): a pool of sidecars that
   * all drop packets would otherwise hold a reconcile worker for pods / concurrency x timeout
   * (25 s at 200), stalling every other pool's renders. The rest are reported as not asked.
   */
  readonly budgetMs?: number;
  /** Milliseconds, monotonic (injected in tests). */
  readonly now?: () => number;
  /** The endpoint digest sidecars should report (the operator's over its own cache); unset: not compared. */
  readonly endpoints?: string;
}

/** Runs `fn` over `items` with at most `limit` at once, keeping the order of results; `skip` for those not started by `deadline`. */
async function mapLimit<I, O>(
  items: readonly I[],
  limit: number,
  fn: (item: I) => Promise<O>,
  late: { now: () => number; deadline: number; skip: (item: I) => O },
): Promise<O[]> {
  const out = new Array<O>(items.length);
  let next = 0;
  async function lane(): Promise<void> {
    while (next < items.length) {
      const i = next++;
      out[i] = late.now() >= late.deadline ? late.skip(items[i]!) : await fn(items[i]!);
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return out;
}

export async function checkSidecars(
  pods: readonly SidecarPod[],
  port: number,
  wanted: string,
  options: CheckOptions,
): Promise<SyncReport> {
  const ask = options.ask;
  const timeoutMs = options.timeoutMs ?? 1000;
  const inconsistent = new Set<string>();
  const runnerRounds = new Map<string, RunnerRound>();
  const now = options.now ?? (() => performance.now());
  const budgetMs = options.budgetMs ?? 5000;
  const late = {
    now,
    deadline: now() + budgetMs,
    skip: (pod: SidecarPod) => `${pod.name} not asked (the ${budgetMs / 1000} s sync check budget was spent)`,
  };
  const wantedEndpoints = options.endpoints;
  const endpointsDiffering: string[] = [];
  const results = await mapLimit(
    pods,
    options.concurrency ?? 8,
    async function checkOne(pod): Promise<string | undefined> {
      try {
        const view = await ask(pod, port, timeoutMs);
        for (const name of view.inconsistent) inconsistent.add(name);
        if (view.runnerRound !== undefined) runnerRounds.set(pod.name, view.runnerRound);
        if (wantedEndpoints !== undefined && view.endpoints !== wantedEndpoints) {
          endpointsDiffering.push(
            `${pod.name} has ${view.endpoints === undefined ? 'no endpoints' : view.endpoints.slice(0, 12)} (want ${wantedEndpoints.slice(0, 12)})`,
          );
        }
        const served = view.hash;
        return served === wanted
          ? undefined
          : `${pod.name} serves ${served === undefined ? 'no config' : served.slice(0, 12)} (want ${wanted.slice(0, 12)})`;
      } catch (error) {
        const unreachable = `${pod.name} unreachable (${(error as { code?: string }).code ?? 'error'})`;
        if (wantedEndpoints !== undefined) endpointsDiffering.push(unreachable);
        return unreachable;
      }
    },
    late,
  );
  const differing = results.filter((r): r is string => r !== undefined).sort();
  const base: SyncReport = {
    total: pods.length,
    synced: pods.length - differing.length,
    differing,
    inconsistent: [...inconsistent].sort().slice(0, 64),
  };
  const report = runnerRounds.size === 0 ? base : { ...base, runnerRounds };
  if (wantedEndpoints === undefined) return report;
  // Pods not asked (the budget was spent) are not known to have the endpoints either.
  const notAsked = results.filter((r) => r?.includes(' not asked ')).map((r) => r!);
  const endpointsOff = [...endpointsDiffering, ...notAsked].sort();
  return { ...report, endpoints: { synced: pods.length - endpointsOff.length, differing: endpointsOff } };
}
