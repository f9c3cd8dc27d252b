/**
 * A TEI-like reranker that remembers when each call arrived (monotonic ms), so a test can count
 * what the backend saw in any window. It reports `tokens` per call in x-compute-tokens; with
 * `latencyMs` it answers that much later and records how many calls it had in flight, when.
 */
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';

export interface CountingBackend {
  readonly url: string;
  /** Arrival times (performance.now()) of every rerank call. */
  readonly arrivals: number[];
  /** Most calls (or with `weights`, most tokens) that arrived within any `windowMs`, between `from` and `to`. */
  maxInWindow(windowMs: number, from?: number, to?: number): number;
  /** Where that window starts (performance.now()). */
  busiestWindowStart(windowMs: number, from?: number): number;
  /** Most calls in flight at once between `from` and `to` (performance.now()). */
  maxInFlight(from?: number, to?: number): number;
  close(): Promise<void>;
}

export async function startCountingBackend(
  options: { tokensPerCall?: number; latencyMs?: number } = {},
): Promise<CountingBackend> {
  const arrivals: number[] = [];
  let inFlight = 0;
  /** [time, calls in flight from then on], one entry per change. */
  const flights: [number, number][] = [[0, 0]];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      if (req.url !== '/rerank') {
        res.writeHead(200).end('ok');
        return;
      }
      arrivals.push(performance.now());
      flights.push([performance.now(), ++inFlight]);
      const texts = (JSON.parse(body) as { texts: string[] }).texts;
      const answer = texts.map((_t, index) => ({ index, score: 1 / (index + 1) }));
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (options.tokensPerCall !== undefined) headers['x-compute-tokens'] = String(options.tokensPerCall);
      setTimeout(() => {
        flights.push([performance.now(), --inFlight]);
        res.writeHead(200, headers).end(JSON.stringify(answer));
      }, options.latencyMs ?? 0);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    arrivals,
    maxInWindow(windowMs, from = Number.NEGATIVE_INFINITY, to = Number.POSITIVE_INFINITY) {
      const times = arrivals.filter((t) => t >= from && t <= to);
      let most = 0;
      let start = 0;
      for (let end = 0; end < times.length; end++) {
        while (times[end]! - times[start]! >= windowMs) start++;
        most = Math.max(most, end - start + 1);
      }
      return most;
    },
    busiestWindowStart(windowMs, from = Number.NEGATIVE_INFINITY) {
      const times = arrivals.filter((t) => t >= from);
      let most = 0;
      let at = Number.NaN;
      let start = 0;
      for (let end = 0; end < times.length; end++) {
        while (times[end]! - times[start]! >= windowMs) start++;
        if (end - start + 1 > most) {
          most = end - start + 1;
          at = times[start]!;
        }
      }
      return at;
    },
    maxInFlight(from = Number.NEGATIVE_INFINITY, to = Number.POSITIVE_INFINITY) {
      let most = 0;
      for (let i = 0; i < flights.length; i++) {
        const [at, n] = flights[i]!;
        const until = flights[i + 1]?.[0] ?? Number.POSITIVE_INFINITY;
        if (until > from && at <= to) most = Math.max(most, n);
      }
      return most;
    },
    async close() {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}
