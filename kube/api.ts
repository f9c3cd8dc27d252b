/**
 * A small generic Kubernetes API client (list/get/apply/patch/create/watch on any path) over the
 * connection kubeconfig.ts loads: its server, TLS and credentials.
 */
import { fetch } from 'undici';
import { loadKubeConnection, type KubeConnection } from './kubeconfig.ts';
import { readWatchLines, MAX_WATCH_LINE_BYTES, type WatchEvent } from './watch-lines.ts';

export type { WatchEvent } from './watch-lines.ts';

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

export class KubeApi {
  readonly connection: KubeConnection;

  constructor(connection: KubeConnection) {
    this.connection = connection;
  }

  /** URL, headers and dispatcher of one authenticated call (the kubeconfig's credentials and TLS). */
  /** URL, headers and dispatcher of one authenticated call. */
  #prepare(path: string, query: Record<string, string | undefined> = {}) {
    const url = new URL(this.connection.server + path);
    for (const [key, value] of Object.entries(query)) if (value !== undefined) url.searchParams.set(key, value);
    const headers: Record<string, string> = { accept: 'application/json' };
    const authorization = this.connection.authorization();
    if (authorization !== undefined) headers.authorization = authorization;
    return { url, headers, dispatcher: this.connection.dispatcher };
  }

  async request<T>(method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, options: { query?: Record<string, string | undefined>; body?: unknown; contentType?: string; timeoutMs?: number } = {}): Promise<T> {
    const { url, headers, dispatcher } = this.#prepare(path, options.query);
    if (options.body !== undefined) headers['content-type'] = options.contentType ?? 'application/json';
    const res = await fetch(url, {
      method,
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      dispatcher,
      signal: AbortSignal.timeout(options.timeoutMs ?? 30_000),
    });
    const text = await res.text();
    const body = text === '' ? undefined : (JSON.parse(text) as Record<string, unknown>);
    if (res.status >= 400) {
      throw new KubeApiError(res.status, `${method} ${path}: ${String(body?.message ?? res.statusText)}`, body?.reason as string | undefined);
    }
    return body as T;
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
    const res = await fetch(url, { method: 'GET', headers, dispatcher, signal });
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
