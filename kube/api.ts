/**
 * A small generic Kubernetes API client (list/get/apply/patch/create/watch on any path) over the
 * connection kubeconfig.ts loads: its server, TLS and credentials.
 */
import { fetch } from 'undici';
import { systemClock, type Clock } from '../common/clock.ts';
import { loadKubeConnection, type KubeConnection } from './kubeconfig.ts';
import { describeRequest, type HttpMethod, type RequestObserver } from './request-labels.ts';
import { readWatchLines, MAX_WATCH_LINE_BYTES, type WatchEvent } from './watch-lines.ts';

export type { WatchEvent } from './watch-lines.ts';
export type { ApiRequest, ApiVerb, RequestObserver } from './request-labels.ts';

export class KubeApiError extends Error {
  readonly status: number;
  readonly reason: string | undefined;
  constructor(status: number, message: string, reason: string | undefined) {
    super(message);
    this.name = 'KubeApiError';
    this.status = status;
    this.reason = reason;
  }
}

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    generation?: number;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    deletionTimestamp?: string;
    ownerReferences?: unknown[];
  };
}

export interface ObjectList<T> {
  readonly items: T[];
  readonly resourceVersion: string;
}

export interface KubeApiOptions {
  /** Told of every request (verb, resource, status code, seconds), e.g. to count them in metrics. */
  readonly observer?: RequestObserver;
  /** Times requests for the observer. */
  readonly clock?: Clock;
}

export class KubeApi {
  readonly connection: KubeConnection;
  readonly #observer: RequestObserver | undefined;
  readonly #clock: Clock;

  constructor(connection: KubeConnection, options: KubeApiOptions = {}) {
    this.connection = connection;
    this.#observer = options.observer;
    this.#clock = options.clock ?? systemClock;
  }

  /** URL, headers and dispatcher of one authenticated call (the kubeconfig's credentials and TLS). */
  #prepare(path: string, query: Record<string, string | undefined> = {}) {
    const url = new URL(this.connection.server + path);
    for (const [key, value] of Object.entries(query)) if (value !== undefined) url.searchParams.set(key, value);
    const headers: Record<string, string> = { accept: 'application/json' };
    const authorization = this.connection.authorization();
    if (authorization !== undefined) headers.authorization = authorization;
    return { url, headers, dispatcher: this.connection.dispatcher };
  }

  /** Reports one request to the observer, if any. */
  #observe(method: HttpMethod, path: string, code: string, seconds: number | undefined, options: { contentType?: string; watch?: boolean } = {}): void {
    if (this.#observer === undefined) return;
    this.#observer.onRequest({ ...describeRequest(method, path, options), code, seconds });
  }

  async request<T>(method: HttpMethod, path: string, options: { query?: Record<string, string | undefined>; body?: unknown; contentType?: string; timeoutMs?: number } = {}): Promise<T> {
    const res = await this.#send(method, path, options);
    const body = res.text === '' ? undefined : (JSON.parse(res.text) as Record<string, unknown>);
    if (res.status >= 400) {
      throw new KubeApiError(res.status, `${method} ${path}: ${String(body?.message ?? res.statusText)}`, body?.reason as string | undefined);
    }
    return body as T;
  }

  /** One call and its whole response body, timed for the observer (a call with no response counts as "error"). */
  async #send(method: HttpMethod, path: string, options: { query?: Record<string, string | undefined>; body?: unknown; contentType?: string; timeoutMs?: number }): Promise<{ status: number; statusText: string; text: string }> {
    const { url, headers, dispatcher } = this.#prepare(path, options.query);
    if (options.body !== undefined) headers['content-type'] = options.contentType ?? 'application/json';
    const started = this.#clock.now();
    let code = 'error';
    try {
      const res = await fetch(url, {
        method,
        headers,
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
        dispatcher,
        signal: AbortSignal.timeout(options.timeoutMs ?? 30_000),
      });
      code = String(res.status);
      return { status: res.status, statusText: res.statusText, text: await res.text() };
    } finally {
      this.#observe(method, path, code, (this.#clock.now() - started) / 1000, { contentType: headers['content-type'] });
    }
  }

  async list<T extends KubeObject>(path: string, query: Record<string, string | undefined> = {}): Promise<ObjectList<T>> {
    const out = await this.request<{ items: T[]; metadata: { resourceVersion: string } }>('GET', path, { query });
    return { items: out.items ?? [], resourceVersion: out.metadata.resourceVersion };
  }

  /**
   * Opens a watch and yields its events until the server ends it (return) or it fails (throw).
   * Unlike @kubernetes/client-node's Watch (2.0.1 aborts any watch silent for 30 s, shorter than
   * the apiserver's one-minute bookmarks), there is no client-side timer: the server's
   * `timeoutSeconds` ends a watch, and the caller's `signal` (its watchdog) aborts one.
   */
  async *watch(path: string, query: Record<string, string | undefined>, signal: AbortSignal): AsyncGenerator<WatchEvent> {
    const { url, headers, dispatcher } = this.#prepare(path, { ...query, watch: 'true' });
    let res: Awaited<ReturnType<typeof fetch>>;
    try {
      res = await fetch(url, { method: 'GET', headers, dispatcher, signal });
    } catch (error) {
      this.#observe('GET', path, 'error', undefined, { watch: true });
      throw error;
    }
    // The start of a watch is counted; the stream's lifetime is no request latency.
    this.#observe('GET', path, String(res.status), undefined, { watch: true });
    if (res.status !== 200 || res.body === null) {
      const text = await res.text().catch(() => '');
      const message = ((): string => {
        try {
          return String((JSON.parse(text) as { message?: unknown }).message ?? res.statusText);
        } catch {
          return res.statusText;
        }
      })();
      throw new KubeApiError(res.status, `watch ${path}: ${message}`, undefined);
    }
    yield* readWatchLines(res.body, MAX_WATCH_LINE_BYTES);
  }

  /** GET, or undefined on 404. */
  async get<T>(path: string): Promise<T | undefined> {
    try {
      return await this.request<T>('GET', path);
    } catch (error) {
      if (error instanceof KubeApiError && error.status === 404) return undefined;
      throw error;
    }
  }

  /** Server-side apply: this manager owns the fields it sends. */
  apply<T>(path: string, object: unknown, fieldManager: string): Promise<T> {
    return this.request<T>('PATCH', path, { body: object, contentType: 'application/apply-patch+yaml', query: { fieldManager, force: 'true' } });
  }

  mergePatch<T>(path: string, patch: unknown): Promise<T> {
    return this.request<T>('PATCH', path, { body: patch, contentType: 'application/merge-patch+json' });
  }
}

export function keyOf(object: KubeObject): string {
  return object.metadata.namespace === undefined ? object.metadata.name : `${object.metadata.namespace}/${object.metadata.name}`;
}

/** Loads $KUBECONFIG (or ~/.kube/config), else the in-cluster service account. */
export function loadKubeConfig(): KubeConnection {
  return loadKubeConnection();
}
