/**
 * What the scale run measures, each a small probe: a process's CPU and RSS from /proc, a watch
 * that counts the bytes and events it receives (as a sidecar's ConfigMap watch would), and the
 * apiserver's own watch-event size histogram from /metrics.
 */
import { readFileSync } from 'node:fs';
import { type Agent, request } from 'undici';

const TICKS_PER_SECOND = 100; // CLK_TCK on Linux

export interface ProcSample {
  readonly at: number;
  readonly cpuSeconds: number;
  readonly rssBytes: number;
}

export function sampleProcess(pid: number): ProcSample {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const cpuTicks = Number(fields[11]) + Number(fields[12]); // utime + stime
  const rss = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return { at: Date.now(), cpuSeconds: cpuTicks / TICKS_PER_SECOND, rssBytes: Number(rss?.[1] ?? 0) * 1024 };
}

/** Samples a process every second; `between(a, b)` gives CPU cores used and peak RSS in a window. */
export function processMonitor(pid: number) {
  const samples: ProcSample[] = [sampleProcess(pid)];
  const timer = setInterval(() => {
    try {
      samples.push(sampleProcess(pid));
    } catch {
      clearInterval(timer);
    }
  }, 1000);
  return {
    now: () => sampleProcess(pid),
    between(from: number, to: number) {
      const window = samples.filter((s) => s.at >= from && s.at <= to);
      const first = window[0]!;
      const last = window.at(-1)!;
      return {
        cores: (last.cpuSeconds - first.cpuSeconds) / Math.max(0.001, (last.at - first.at) / 1000),
        peakRssBytes: Math.max(...window.map((s) => s.rssBytes)),
        endRssBytes: last.rssBytes,
      };
    },
    stop: () => clearInterval(timer),
  };
}

export interface ApiClient {
  readonly url: string;
  readonly token: string;
  readonly agent: Agent;
}

export async function api<T>(
  c: ApiClient,
  method: string,
  path: string,
  body?: unknown,
  contentType = 'application/json',
): Promise<T> {
  const res = await request(`${c.url}${path}`, {
    method: method as 'GET',
    dispatcher: c.agent,
    headers: {
      authorization: `Bearer ${c.token}`,
      accept: 'application/json',
      ...(body === undefined ? {} : { 'content-type': contentType }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.body.text();
  if (res.statusCode >= 400) throw new Error(`${method} ${path}: ${res.statusCode} ${text.slice(0, 300)}`);
  return (text === '' ? undefined : JSON.parse(text)) as T;
}

/** A raw watch on one ConfigMap, counting what the apiserver sends it. */
export function countingWatch(c: ApiClient, namespace: string, name: string) {
  const counts = { bytes: 0, events: 0, eventTimes: [] as number[] };
  const abort = new AbortController();
  void (async () => {
    try {
      const res = await request(
        `${c.url}/api/v1/namespaces/${namespace}/configmaps?watch=true&fieldSelector=metadata.name%3D${name}&allowWatchBookmarks=true&timeoutSeconds=600`,
        {
          dispatcher: c.agent,
          headers: { authorization: `Bearer ${c.token}` },
          signal: abort.signal,
        },
      );
      let pending = '';
      for await (const chunk of res.body) {
        counts.bytes += chunk.length;
        pending += chunk.toString();
        for (let nl = pending.indexOf('\n'); nl >= 0; nl = pending.indexOf('\n')) {
          const line = pending.slice(0, nl);
          pending = pending.slice(nl + 1);
          if (line.startsWith('{"type":"MODIFIED"')) {
            counts.events++;
            counts.eventTimes.push(Date.now());
          }
        }
      }
    } catch {
      // aborted at the end of the run
    }
  })();
  return { counts, stop: () => abort.abort() };
}

/** Sum and count of apiserver_watch_events_sizes for one resource (bytes of watch events sent). */
export async function watchEventSizes(c: ApiClient, resource: string): Promise<{ sum: number; count: number }> {
  const res = await request(`${c.url}/metrics`, {
    dispatcher: c.agent,
    headers: { authorization: `Bearer ${c.token}` },
  });
  const text = await res.body.text();
  const pick = (suffix: string) =>
    [...text.matchAll(new RegExp(`^apiserver_watch_events_sizes_${suffix}\\{([^}]*)\\} ([0-9.e+]+)$`, 'gm'))]
      .filter((m) => new RegExp(`resource="${resource}"`).test(m[1]!))
      .reduce((n, m) => n + Number(m[2]), 0);
  return { sum: pick('sum'), count: pick('count') };
}

/** apiserver_request_total by "VERB resource[/subresource]" for the given resources (writes the operator makes). */
export async function requestCounts(c: ApiClient, resources: readonly string[]): Promise<Record<string, number>> {
  const res = await request(`${c.url}/metrics`, {
    dispatcher: c.agent,
    headers: { authorization: `Bearer ${c.token}` },
  });
  const text = await res.body.text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^apiserver_request_total\{([^}]*)\} ([0-9.e+]+)$/gm)) {
    const label = (name: string) => new RegExp(`${name}="([^"]*)"`).exec(m[1]!)?.[1] ?? '';
    const resource = label('resource');
    const verb = label('verb');
    if (!resources.includes(resource) || ['GET', 'LIST', 'WATCH'].includes(verb)) continue;
    const key = `${verb} ${resource}${label('subresource') === '' ? '' : `/${label('subresource')}`}`;
    out[key] = (out[key] ?? 0) + Number(m[2]);
  }
  return out;
}

export function difference(after: Record<string, number>, before: Record<string, number>): Record<string, number> {
  return Object.fromEntries(
    Object.entries(after)
      .map(([k, v]) => [k, v - (before[k] ?? 0)])
      .filter(([, v]) => (v as number) > 0),
  );
}

/** Polls `check` every `everyMs` until it holds; the milliseconds that took. */
export async function until(what: string, check: () => Promise<boolean>, ms: number, everyMs = 250): Promise<number> {
  const started = Date.now();
  while (Date.now() - started < ms) {
    if (await check()) return Date.now() - started;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Mean apiserver-side latencies (ms) since start: etcd requests by operation, and requests by verb. */
export async function latencies(c: ApiClient): Promise<Record<string, number>> {
  const res = await request(`${c.url}/metrics`, {
    dispatcher: c.agent,
    headers: { authorization: `Bearer ${c.token}` },
  });
  const text = await res.body.text();
  const mean = (metric: string, label: string, value: string) => {
    const pick = (suffix: string) =>
      [...text.matchAll(new RegExp(`^${metric}_${suffix}\\{([^}]*)\\} ([0-9.e+]+)$`, 'gm'))]
        .filter((m) => m[1]!.includes(`${label}="${value}"`))
        .reduce((n, m) => n + Number(m[2]), 0);
    const count = pick('count');
    return count === 0 ? 0 : Math.round((pick('sum') / count) * 10000) / 10;
  };
  return {
    etcdCreateMs: mean('etcd_request_duration_seconds', 'operation', 'create'),
    etcdUpdateMs: mean('etcd_request_duration_seconds', 'operation', 'update'),
    etcdGetMs: mean('etcd_request_duration_seconds', 'operation', 'get'),
    applyMs: mean('apiserver_request_duration_seconds', 'verb', 'APPLY'),
    postMs: mean('apiserver_request_duration_seconds', 'verb', 'POST'),
  };
}
