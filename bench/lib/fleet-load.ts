/**
 * Open-loop load for several streams at once (sidecar x priority class) from one timer loop, so a
 * dozen streams cost one wake-up every 2 ms instead of a dozen every millisecond (load-generator.ts
 * runs one stream). Latency is measured from each call's intended send time (wrk2's method).
 */
import { Pool } from 'undici';

export interface Stream {
  readonly key: string;
  readonly url: string;
  readonly rate: number;
  readonly headers: Record<string, string>;
}

export interface StreamResult {
  readonly samples: number[];
  sent: number;
  failed: number;
  readonly failures: Record<string, number>;
}

export async function runStreams(
  streams: readonly Stream[],
  seconds: number,
  body: string,
  timeoutMs: number,
): Promise<Map<string, StreamResult>> {
  const pools = new Map<string, Pool>();
  const results = new Map<string, StreamResult>();
  for (const s of streams) {
    const origin = new URL(s.url).origin;
    if (!pools.has(origin)) pools.set(origin, new Pool(origin, { connections: 512, keepAliveTimeout: 30_000 }));
    if (!results.has(s.key)) results.set(s.key, { samples: [], sent: 0, failed: 0, failures: {} });
  }
  const start = performance.now() + 20;
  const next = streams.map(() => 0);
  const totals = streams.map((s) => Math.round(s.rate * seconds));
  const pending: Promise<void>[] = [];
  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = performance.now();
      let left = false;
      for (let i = 0; i < streams.length; i++) {
        const s = streams[i]!;
        while (next[i]! < totals[i]! && start + (next[i]! * 1000) / s.rate <= now) {
          const intended = start + (next[i]! * 1000) / s.rate;
          next[i]!++;
          pending.push(
            fire(
              pools.get(new URL(s.url).origin)!,
              new URL(s.url).pathname,
              s.headers,
              body,
              timeoutMs,
              intended,
              results.get(s.key)!,
            ),
          );
        }
        if (next[i]! < totals[i]!) left = true;
      }
      if (left) setTimeout(tick, 2);
      else resolve();
    };
    setTimeout(tick, 20);
  });
  await Promise.all(pending);
  await Promise.all([...pools.values()].map((p) => p.close()));
  for (const r of results.values()) r.samples.sort((a, b) => a - b);
  return results;
}

async function fire(
  pool: Pool,
  path: string,
  headers: Record<string, string>,
  body: string,
  timeoutMs: number,
  intended: number,
  into: StreamResult,
): Promise<void> {
  into.sent++;
  try {
    const res = await pool.request({
      path,
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
    await res.body.text();
    into.samples.push(performance.now() - intended);
    if (res.statusCode !== 200) {
      into.failed++;
      const key = `${res.statusCode}${res.headers['retry-after'] === undefined ? '' : '+retry-after'}`;
      into.failures[key] = (into.failures[key] ?? 0) + 1;
    }
  } catch (error) {
    into.samples.push(performance.now() - intended);
    into.failed++;
    const key = (error as { code?: string }).code ?? 'error';
    into.failures[key] = (into.failures[key] ?? 0) + 1;
  }
}
