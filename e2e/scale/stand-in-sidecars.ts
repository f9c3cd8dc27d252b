/**
 * Stand-in sidecars for `make scale-sync`: one tiny HTTP server per address answering
 * `GET /lb/config` with `{"hash": ...}`, the only field the operator reads. A follower polls the
 * pool's ConfigMap and, like a real sidecar reloading its mounted file, each stand-in switches to
 * the new hash (sha256 of the file text, as the sidecar computes it) after a random delay. A
 * stand-in can be told to hold its old hash (lag), to answer late (hang), or to drop every packet
 * sent to it, as the address of a pod on a dead node does (blackhole: an iptables DROP rule, root
 * only). Every request is timed, and the requests in flight across all stand-ins are counted.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type Server, type ServerResponse } from 'node:http';
import { api, type ApiClient } from './probes.ts';

export interface StandIn {
  readonly pod: string;
  readonly ip: string;
  /** The hash it answers with (undefined: no config loaded yet). */
  served: string | undefined;
  /** Lagging: keeps `served` when the ConfigMap changes. */
  hold: boolean;
  /** Answers this late (the stand-ins' `answerMs` unless hanging); the operator gives up after its 1 s timeout. */
  delayMs: number;
}

export interface Traffic {
  /** Arrival time of every /lb/config request. */
  readonly times: number[];
  inFlight: number;
  maxInFlight: number;
}

const CONFIG_KEY = 'reranker_config.yaml';
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

export class StandIns {
  readonly all: StandIn[];
  readonly traffic: Traffic = { times: [], inFlight: 0, maxInFlight: 0 };
  /** The hash of the ConfigMap as last read, when it changed, and when the last stand-in followed it. */
  latest: string | undefined;
  changedAt = 0;
  lastSwitchAt = 0;
  readonly #servers: Server[] = [];
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #dropped = new Set<string>();
  #port = 0;
  #following = false;
  readonly #switchMaxMs: number;
  readonly answerMs: number;

  /** `answerMs`: how long each answer takes (a sidecar busy serving traffic), so concurrency shows. */
  constructor(pods: readonly { pod: string; ip: string }[], switchMaxMs: number, answerMs: number) {
    this.answerMs = answerMs;
    this.all = pods.map((p) => ({ ...p, served: undefined, hold: false, delayMs: answerMs }));
    this.#switchMaxMs = switchMaxMs;
  }

  async listen(port: number): Promise<void> {
    this.#port = port;
    for (const s of this.all) {
      const server = createServer((req, res) => this.#answer(s, req.url, res));
      server.listen(port, s.ip);
      await once(server, 'listening');
      this.#servers.push(server);
    }
  }

  #answer(s: StandIn, url: string | undefined, res: ServerResponse): void {
    const t = this.traffic;
    t.times.push(Date.now());
    t.inFlight++;
    t.maxInFlight = Math.max(t.maxInFlight, t.inFlight);
    res.on('close', () => t.inFlight--); // answered, or abandoned by the operator's timeout
    if (url !== '/lb/config') {
      res.writeHead(404).end();
      return;
    }
    const reply = () =>
      void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ hash: s.served }));
    if (s.delayMs <= 0) {
      reply();
      return;
    }
    const timer = setTimeout(reply, s.delayMs);
    res.on('close', () => clearTimeout(timer));
  }

  /** Polls the ConfigMap every 100 ms; on a change, each stand-in not held follows after 0..switchMaxMs. */
  follow(c: ApiClient, namespace: string, configMap: string): void {
    this.#following = true;
    void (async () => {
      while (this.#following) {
        const cm = await api<{ data?: Record<string, string> }>(
          c,
          'GET',
          `/api/v1/namespaces/${namespace}/configmaps/${configMap}`,
        ).catch(() => undefined);
        const text = cm?.data?.[CONFIG_KEY];
        if (text !== undefined && sha256(text) !== this.latest) this.#changed(sha256(text));
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
  }

  #changed(hash: string): void {
    this.latest = hash;
    this.changedAt = Date.now();
    for (const s of this.all) {
      if (s.hold) continue;
      const timer = setTimeout(() => {
        this.#timers.delete(timer);
        if (s.hold || this.latest !== hash) return;
        s.served = hash;
        this.lastSwitchAt = Math.max(this.lastSwitchAt, Date.now());
      }, Math.random() * this.#switchMaxMs);
      this.#timers.add(timer);
    }
  }

  /** Stops lagging: serves the current config at once. */
  release(s: StandIn): void {
    s.hold = false;
    s.served = this.latest;
    this.lastSwitchAt = Date.now();
  }

  /** From now on packets to `s` are dropped; its open connections are closed first, so the operator must connect anew. */
  blackhole(s: StandIn): void {
    this.#iptables('-I', s.ip);
    this.#dropped.add(s.ip);
    this.#servers[this.all.indexOf(s)]!.closeAllConnections();
  }

  restore(s: StandIn): void {
    if (this.#dropped.delete(s.ip)) this.#iptables('-D', s.ip);
  }

  #iptables(op: '-I' | '-D', ip: string): void {
    execFileSync(
      'iptables',
      [op, 'OUTPUT', '-d', `${ip}/32`, '-p', 'tcp', '--dport', String(this.#port), '-j', 'DROP'],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
  }

  /** Requests that arrived in [from, to). */
  between(from: number, to: number): number[] {
    return this.traffic.times.filter((t) => t >= from && t < to);
  }

  async close(): Promise<void> {
    this.#following = false;
    for (const timer of this.#timers) clearTimeout(timer);
    for (const s of this.all) this.restore(s);
    await Promise.all(
      this.#servers.map((server) => {
        server.closeAllConnections();
        return new Promise((r) => server.close(r));
      }),
    );
  }
}

/** Bursts of requests (gaps over 300 ms split them): start in s after `from`, and size. */
export function rounds(times: readonly number[], from: number): { atS: number; requests: number }[] {
  const out: { atS: number; requests: number }[] = [];
  let last = -Infinity;
  for (const t of times) {
    if (t - last > 300) out.push({ atS: Math.round((t - from) / 100) / 10, requests: 0 });
    out.at(-1)!.requests++;
    last = t;
  }
  return out;
}

/** The most requests that arrived within any one second (sliding). */
export function peakPerSecond(times: readonly number[]): number {
  let peak = 0;
  for (let i = 0, j = 0; i < times.length; i++) {
    while (times[i]! - times[j]! >= 1000) j++;
    peak = Math.max(peak, i - j + 1);
  }
  return peak;
}
