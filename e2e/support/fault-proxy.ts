/**
 * A fault-injecting proxy in front of the real kube-apiserver, for e2e tests of clients under
 * failure (informers, leader election, anything that talks to the API).
 *
 * Clients reach it over plain HTTP on loopback (`proxy.kubeconfig(user)` writes a kubeconfig for
 * it); it forwards each request over TLS to the apiserver with the client's own bearer token, so
 * authentication and RBAC are the real ones. A client is known by its token: the name of the
 * Cluster user holding it (see e2e/support/cluster.ts), else "unknown".
 *
 * API:
 *   const proxy = await FaultProxy.start(cluster);     // cluster.url upstream, cluster.users known
 *   proxy.kubeconfig(user)                              // path of a kubeconfig through the proxy
 *   const off = proxy.fault({ client, method, watch, path, times, action })  // first match wins
 *   off() / proxy.clearFaults()                         // remove one / all (held requests are released)
 *   proxy.requests                                      // every request: client, method, path, query, watch, write, at, status, fault
 *   proxy.writes(client, sinceMs?)                      // its POST/PUT/PATCH/DELETE received after sinceMs
 *   proxy.dropWatches(client?)                          // cut the watches now open (mid-stream), e.g. so
 *                                                       // that the next watch meets a new fault
 *   proxy.stop()
 * Actions:
 *   { kind: 'hang' }                 hold the request unanswered; when the fault is removed it is
 *                                    forwarded if the client is still waiting (a healed partition)
 *   { kind: 'status', status, retryAfter?, body?, contentType? }
 *                                    answer at once: 410 / 429 (Retry-After) / 500; body defaults
 *                                    to a Kubernetes Status; pass a `body` for a non-JSON one
 *   { kind: 'close-watch' }          answer a watch 200 with no event and end it at once
 *   { kind: 'drop-watch', afterEvents } forward a watch, then cut the connection after N events
 *   { kind: 'watch-error', code, reason } answer a watch 200 with one ERROR event (410 Expired) and end
 * Times (`at`) are Date.now() of this process when the request arrived.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import type { Cluster, User } from './cluster.ts';

export type FaultAction =
  | { readonly kind: 'hang' }
  | {
      readonly kind: 'status';
      readonly status: number;
      readonly retryAfter?: number;
      readonly body?: string;
      readonly contentType?: string;
    }
  | { readonly kind: 'close-watch' }
  | { readonly kind: 'drop-watch'; readonly afterEvents: number }
  | { readonly kind: 'watch-error'; readonly code: number; readonly reason?: string };

export interface Fault {
  /** The user name (from the cluster's users) whose requests this applies to; undefined: anyone's. */
  readonly client?: string;
  readonly method?: string;
  /** Only watches (true), only non-watch requests (false), or both. */
  readonly watch?: boolean;
  readonly path?: RegExp;
  /** Applies to this many matching requests, then removes itself; default: until removed. */
  readonly times?: number;
  readonly action: FaultAction;
}

export interface RecordedRequest {
  readonly client: string;
  readonly method: string;
  readonly path: string;
  readonly query: Record<string, string>;
  readonly watch: boolean;
  readonly write: boolean;
  /** Date.now() when it arrived. */
  readonly at: number;
  /** The fault applied, if any. */
  fault?: FaultAction['kind'];
  /** The status sent back (undefined: none, e.g. held or cut). */
  status?: number;
}

interface ActiveFault {
  readonly fault: Fault;
  remaining: number;
  readonly held: (() => void)[];
}

const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

export class FaultProxy {
  readonly url: string;
  readonly requests: RecordedRequest[] = [];
  readonly #server: Server;
  readonly #upstream: string;
  readonly #dir: string;
  readonly #clients: Map<string, string>;
  readonly #agent = new Agent({ connect: { rejectUnauthorized: false } });
  #faults: ActiveFault[] = [];
  /** Watches being forwarded now, to cut on demand. */
  readonly #open = new Set<{ readonly record: RecordedRequest; readonly res: ServerResponse }>();

  private constructor(server: Server, url: string, upstream: string, dir: string, users: readonly User[]) {
    this.#server = server;
    this.url = url;
    this.#upstream = upstream;
    this.#dir = dir;
    this.#clients = new Map(users.map((u) => [u.token, u.name]));
    server.on('request', (req, res) => void this.#handle(req, res));
  }

  static async start(cluster: Pick<Cluster, 'url' | 'users' | 'dir'>): Promise<FaultProxy> {
    const server = createServer();
    server.keepAliveTimeout = 60_000;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    return new FaultProxy(server, `http://127.0.0.1:${port}`, cluster.url, cluster.dir, cluster.users);
  }

  /** A kubeconfig for `user` that goes through this proxy. */
  kubeconfig(user: User): string {
    const path = join(this.#dir, `kubeconfig-proxy-${this.url.split(':').pop()}-${user.token}`);
    writeFileSync(
      path,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'proxy', cluster: { server: this.url } }],
        users: [{ name: user.name, user: { token: user.token } }],
        contexts: [{ name: 'proxy', context: { cluster: 'proxy', user: user.name } }],
        'current-context': 'proxy',
      }),
    );
    return path;
  }

  /** Adds a fault; returns a function that removes it (releasing what it holds). */
  fault(fault: Fault): () => void {
    const active: ActiveFault = { fault, remaining: fault.times ?? Infinity, held: [] };
    this.#faults.push(active);
    return () => this.#remove(active);
  }

  clearFaults(): void {
    for (const active of [...this.#faults]) this.#remove(active);
  }

  #remove(active: ActiveFault): void {
    this.#faults = this.#faults.filter((f) => f !== active);
    for (const release of active.held.splice(0)) release();
  }

  /** Writes (POST/PUT/PATCH/DELETE) `client` sent that arrived after `sinceMs` (Date.now()). */
  writes(client: string, sinceMs = 0): RecordedRequest[] {
    return this.requests.filter((r) => r.client === client && r.write && r.at > sinceMs);
  }

  /** Cuts every open watch of `client` (all clients: undefined) mid-stream; returns how many. */
  dropWatches(client?: string): number {
    let n = 0;
    for (const open of [...this.#open]) {
      if (client !== undefined && open.record.client !== client) continue;
      open.res.socket?.destroy();
      this.#open.delete(open);
      n++;
    }
    return n;
  }

  #match(record: RecordedRequest): ActiveFault | undefined {
    for (const active of this.#faults) {
      const f = active.fault;
      if (f.client !== undefined && f.client !== record.client) continue;
      if (f.method !== undefined && f.method !== record.method) continue;
      if (f.watch !== undefined && f.watch !== record.watch) continue;
      if (f.path !== undefined && !f.path.test(record.path)) continue;
      if (--active.remaining <= 0) this.#faults = this.#faults.filter((x) => x !== active);
      return active;
    }
    return undefined;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://proxy');
    const token = (req.headers.authorization ?? '').replace(/^Bearer /, '');
    const method = req.method ?? 'GET';
    const record: RecordedRequest = {
      client: this.#clients.get(token) ?? 'unknown',
      method,
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      watch: url.searchParams.get('watch') === 'true' || url.searchParams.get('watch') === '1',
      write: WRITE_METHODS.has(method),
      at: Date.now(),
    };
    this.requests.push(record);
    const body = await readBody(req);
    const active = this.#match(record);
    const action = active?.fault.action;
    if (action !== undefined) record.fault = action.kind;
    switch (action?.kind) {
      case undefined:
        return this.#forward(req, res, body, record);
      case 'hang':
        active!.held.push(() => {
          if (!res.destroyed && !req.destroyed) void this.#forward(req, res, body, record);
        });
        return;
      case 'status': {
        const text =
          action.body ??
          JSON.stringify({
            kind: 'Status',
            apiVersion: 'v1',
            status: 'Failure',
            code: action.status,
            reason: reasonOf(action.status),
            message: `injected ${action.status}`,
          });
        const headers: Record<string, string> = {
          'content-type': action.contentType ?? (action.body === undefined ? 'application/json' : 'text/plain'),
        };
        if (action.retryAfter !== undefined) headers['retry-after'] = String(action.retryAfter);
        record.status = action.status;
        res.writeHead(action.status, headers).end(text);
        return;
      }
      case 'close-watch':
        record.status = 200;
        res.writeHead(200, { 'content-type': 'application/json' }).end();
        return;
      case 'watch-error':
        record.status = 200;
        res.writeHead(200, { 'content-type': 'application/json' }).end(
          JSON.stringify({
            type: 'ERROR',
            object: {
              kind: 'Status',
              apiVersion: 'v1',
              status: 'Failure',
              code: action.code,
              reason: action.reason ?? reasonOf(action.code),
              message: `injected watch error ${action.code}`,
            },
          }) + '\n',
        );
        return;
      case 'drop-watch':
        return this.#forward(req, res, body, record, action.afterEvents);
    }
  }

  /** Forwards to the apiserver; with `dropAfterEvents`, cuts the connection after that many watch events. */
  async #forward(
    req: IncomingMessage,
    res: ServerResponse,
    body: Buffer,
    record: RecordedRequest,
    dropAfterEvents?: number,
  ): Promise<void> {
    const abort = new AbortController();
    const open = { record, res };
    if (record.watch) this.#open.add(open);
    res.on('close', () => {
      this.#open.delete(open);
      abort.abort();
    });
    try {
      const headers: Record<string, string> = {};
      for (const name of ['authorization', 'content-type', 'accept']) {
        const value = req.headers[name];
        if (typeof value === 'string') headers[name] = value;
      }
      const upstream = await request(this.#upstream + (req.url ?? '/'), {
        method: record.method as 'GET',
        headers,
        body: body.length === 0 ? undefined : body,
        dispatcher: this.#agent,
        signal: abort.signal,
      });
      record.status = upstream.statusCode;
      const out: Record<string, string> = {};
      for (const name of ['content-type', 'retry-after']) {
        const value = upstream.headers[name];
        if (typeof value === 'string') out[name] = value;
      }
      res.writeHead(upstream.statusCode, out);
      let events = 0;
      for await (const chunk of upstream.body) {
        if (dropAfterEvents !== undefined) {
          const text = (chunk as Buffer).toString();
          let cut = -1;
          for (let i = 0; i < text.length; i++) {
            if (text[i] === '\n' && ++events >= dropAfterEvents) {
              cut = i + 1;
              break;
            }
          }
          if (cut >= 0) {
            // The events so far reach the client, then the connection is cut mid-stream (no end of
            // the chunked body), as a dying load balancer would.
            res.write(text.slice(0, cut), () => res.socket?.destroy());
            abort.abort();
            return;
          }
        }
        res.write(chunk);
      }
      res.end();
    } catch {
      if (!res.headersSent && !res.destroyed) res.writeHead(502).end();
      else res.destroy();
    }
  }

  async stop(): Promise<void> {
    this.#faults = [];
    this.#server.closeAllConnections();
    await new Promise((resolve) => this.#server.close(resolve));
    await this.#agent.close();
  }
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', () => resolve(Buffer.concat(chunks)));
  });
}

function reasonOf(status: number): string {
  return (
    { 410: 'Expired', 429: 'TooManyRequests', 500: 'InternalError', 503: 'ServiceUnavailable', 504: 'Timeout' }[
      status
    ] ?? 'Unknown'
  );
}
