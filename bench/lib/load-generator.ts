/**
 * Open-loop load at a fixed arrival rate, with coordinated-omission-corrected latencies: each
 * request has an intended send time (start + i / rate) and its latency is measured from that
 * time, not from when it actually went out (wrk2's method). A slow server therefore shows up as
 * latency, not as a politely reduced request rate. Runs as its own process; prints JSON.
 *
 *   node bench/lib/load-generator.ts --url http://127.0.0.1:8000/rerank --rate 1000 --seconds 5 --body-file b.json
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';

export interface LoadResult {
  readonly rate: number;
  readonly seconds: number;
  readonly sent: number;
  readonly ok: number;
  readonly non2xx: number;
  readonly errors: number;
  readonly achievedRate: number;
  readonly latencyMs: { p50: number; p90: number; p99: number; p999: number; max: number; mean: number };
  /** Per second of intended send time: calls, calls per backend (x-fake-backend), p99. */
  readonly perSecond: { t: number; count: number; failed: number; p99: number; byBackend: Record<string, number> }[];
  /** Status codes of failed calls and how many had Retry-After (chaos runs check them). */
  readonly failures: Record<string, number>;
}

function percentile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

/** A rerank answer in any format: a non-empty results list (or bare array) of finite scores. */
function validAnswer(text: string): boolean {
  try {
    const body = JSON.parse(text) as { results?: unknown } | unknown[];
    const list = Array.isArray(body) ? body : (body as { results?: unknown }).results;
    if (!Array.isArray(list) || list.length === 0) return false;
    return list.every(
      (r: { index?: unknown; relevance_score?: unknown; score?: unknown }) =>
        Number.isInteger(r.index) && Number.isFinite(r.relevance_score ?? r.score),
    );
  } catch {
    return false;
  }
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

/** Warms up (connections, JIT) for `warmupSeconds` at the same rate, then measures. */
export async function runLoad(
  url: string,
  rate: number,
  seconds: number,
  body: string,
  warmupSeconds = 1,
  timeoutMs = 10_000,
): Promise<LoadResult> {
  const target = new URL(url);
  const pool = new Pool(target.origin, { connections: 1024, keepAliveTimeout: 30_000, pipelining: 1 });
  try {
    if (warmupSeconds > 0) await phase(pool, target, rate, warmupSeconds, body, timeoutMs);
    return await phase(pool, target, rate, seconds, body, timeoutMs);
  } finally {
    await pool.close();
  }
}

async function phase(
  pool: Pool,
  target: URL,
  rate: number,
  seconds: number,
  body: string,
  timeoutMs: number,
): Promise<LoadResult> {
  const total = Math.round(rate * seconds);
  const interval = 1000 / rate;
  const latency = new Float64Array(total).fill(Number.NaN);
  const second = new Int32Array(total);
  const backend: (string | undefined)[] = new Array(total);
  const failedAt = new Uint8Array(total);
  const failures: Record<string, number> = {};
  let ok = 0;
  let non2xx = 0;
  let errors = 0;
  let done = 0;
  const path = target.pathname + target.search;
  const headers = { 'content-type': 'application/json' };
  const start = performance.now() + 20;

  await new Promise<void>((resolve) => {
    let sent = 0;
    const fire = (i: number, intended: number) => {
      second[i] = Math.floor((intended - start) / 1000);
      pool
        .request({ path, method: 'POST', headers, body, headersTimeout: timeoutMs, bodyTimeout: timeoutMs })
        .then(async (res) => {
          const text = await res.body.text();
          latency[i] = performance.now() - intended;
          const served = res.headers['x-fake-backend'] ?? res.headers['x-reranker-lb-backend'];
          backend[i] = typeof served === 'string' ? served : undefined;
          if (res.statusCode >= 200 && res.statusCode < 300 && validAnswer(text)) ok++;
          else {
            non2xx++;
            failedAt[i] = 1;
            const key = `${res.statusCode}${res.headers['retry-after'] === undefined ? '' : '+retry-after'}`;
            failures[key] = (failures[key] ?? 0) + 1;
          }
        })
        .catch((error: { code?: string }) => {
          latency[i] = performance.now() - intended;
          errors++;
          failedAt[i] = 1;
          const key = error.code ?? 'error';
          failures[key] = (failures[key] ?? 0) + 1;
        })
        .finally(() => {
          if (++done === total) resolve();
        });
    };
    const tick = () => {
      const now = performance.now();
      while (sent < total && start + sent * interval <= now) {
        fire(sent, start + sent * interval);
        sent++;
      }
      if (sent < total) setTimeout(tick, 1);
    };
    setTimeout(tick, 20);
  });

  const elapsed = (performance.now() - start) / 1000;
  const sorted = Float64Array.from(latency.filter((x) => !Number.isNaN(x))).sort();
  const seconds_ = Math.ceil(seconds);
  const perSecond = Array.from({ length: seconds_ }, (_, t) => {
    const inSecond: number[] = [];
    const byBackend: Record<string, number> = {};
    let failed = 0;
    for (let i = 0; i < total; i++) {
      if (second[i] !== t) continue;
      inSecond.push(latency[i]!);
      failed += failedAt[i]!;
      const b = backend[i];
      if (b !== undefined) byBackend[b] = (byBackend[b] ?? 0) + 1;
    }
    const s = Float64Array.from(inSecond).sort();
    return { t, count: inSecond.length, failed, p99: round(percentile(s, 0.99)), byBackend };
  });
  let sum = 0;
  for (const x of sorted) sum += x;
  return {
    rate,
    seconds,
    sent: total,
    ok,
    non2xx,
    errors,
    achievedRate: Math.round(ok / elapsed),
    latencyMs: {
      p50: round(percentile(sorted, 0.5)),
      p90: round(percentile(sorted, 0.9)),
      p99: round(percentile(sorted, 0.99)),
      p999: round(percentile(sorted, 0.999)),
      max: round(sorted[sorted.length - 1] ?? Number.NaN),
      mean: round(sum / Math.max(1, sorted.length)),
    },
    perSecond,
    failures,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: {
      url: { type: 'string' },
      rate: { type: 'string' },
      seconds: { type: 'string' },
      warmup: { type: 'string', default: '1' },
      'body-file': { type: 'string' },
    },
  });
  const result = await runLoad(
    values.url!,
    Number(values.rate),
    Number(values.seconds),
    readFileSync(values['body-file']!, 'utf8'),
    Number(values.warmup),
  );
  process.stdout.write(`${JSON.stringify(result)}\n`);
}
