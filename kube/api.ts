/**
 * A small generic Kubernetes API client (list/get/apply/patch/create/watch on any path) over the
 * connection kubeconfig.ts loads: its server, TLS and credentials.
 */
import { fetch } from 'undici';
import { systemClock, type Clock } from '../common/clock.ts';
import { loadKubeConnection, type KubeConnection } from './kubeconfig.ts';
import { describeRequest, type HttpMethod, type RequestObserver } from './request-labels.ts';
import { readWatchLines, MAX_WATCH_LINE_BYTES, type WatchEvent } from './watch-lines.ts';
import {
  decodeList,
  decodeWatchEvent,
  isProtobuf,
  PROTOBUF_ACCEPT,
  statusOfBody,
  type ObjectDecoder,
} from './protobuf/envelope.ts';
import { readWatchFrames } from './protobuf/watch-frames.ts';
import { ProtobufError } from './protobuf/wire.ts';

export type { WatchEvent } from './watch-lines.ts';
export type { ApiRequest, ApiVerb, RequestObserver } from './request-labels.ts';
export type { ObjectDecoder } from './protobuf/envelope.ts';

/** An API call that failed: the HTTP status (0: no response), the Status reason, Retry-After if sent. */
export class KubeApiError extends Error {
  readonly status: number;
  readonly reason: string | undefined;
  /** Seconds the server asked us to wait (429, some 5xx), from the Retry-After header or Status details. */
  readonly retryAfterSeconds: number | undefined;
  constructor(status: number, message: string, reason: string | undefined, retryAfterSeconds?: number) {
    super(message);
    this.name = 'KubeApiError';
    this.status = status;
    this.reason = reason;
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** A ConfigMap as the sidecar's watches read it (its data only). */
export interface ConfigMap {
  metadata: { name: string; namespace?: string; resourceVersion?: string };
  data?: Record<string, string>;
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
  /** The token for the next page of a paged list (`limit`); undefined on the last page. */
  readonly continue?: string;
}

export interface KubeApiOptions {
  /** Told of every request (verb, resource, status code, seconds), e.g. to count them in metrics. */
  readonly observer?: RequestObserver;
  /** Times requests for the observer. */
  readonly clock?: Clock;
  /** Every request (and watch) of this client is aborted with this signal: a lifetime (see `bound`). */
  readonly signal?: AbortSignal;
}

/** Per call: a lifetime to abort with, and a transport timeout (default 30 s). */
export interface CallOptions {
  readonly signal?: AbortSignal;
  readonly timeoutMs?: number;
}

/**
 * Opt-in protobuf for a list or watch of a built-in resource (client-go asks for it too): the
 * object's message decoder. Protobuf is asked for with JSON as the fallback, and the response's
 * Content-Type says which came (an aggregated API or a proxy may answer JSON).
 */
export interface ProtobufOption<T> {
  readonly protobuf?: ObjectDecoder<T>;
}

interface SendOptions extends CallOptions {
  readonly query?: Record<string, string | undefined>;
  readonly body?: unknown;
  readonly contentType?: string;
  /** The Accept header; default JSON. */
  readonly accept?: string | undefined;
}

interface Sent {
  readonly status: number;
  readonly statusText: string;
  readonly contentType: string;
  readonly retryAfter: string | null;
  /** The body as text; empty for a protobuf body (read `bytes`). */
  readonly text: string;
  readonly bytes: Uint8Array;
}

/** The transport bound of a call that has no shorter deadline of its own. */
const DEFAULT_TIMEOUT_MS = 30_000;

export class KubeApi {
  readonly connection: KubeConnection;
  readonly #observer: RequestObserver | undefined;
  readonly #clock: Clock;
  readonly #signal: AbortSignal | undefined;

  constructor(connection: KubeConnection, options: KubeApiOptions = {}) {
    this.connection = connection;
    this.#observer = options.observer;
    this.#clock = options.clock ?? systemClock;
    this.#signal = options.signal;
  }

  /**
   * The same client, with every call also bound to `signal` (a leadership term, a reconcile's
   * deadline): when it aborts, calls in flight are cancelled and new ones fail at once.
   */
  bound(signal: AbortSignal): KubeApi {
    return new KubeApi(this.connection, {
      observer: this.#observer,
      clock: this.#clock,
      signal: this.#signal === undefined ? signal : AbortSignal.any([this.#signal, signal]),
    });
  }

  /** The signal one call runs under: this client's lifetime, the caller's, and a transport timeout. */
  #signalOf(options: CallOptions, timeout: boolean): AbortSignal {
    const signals = [this.#signal, options.signal].filter((s): s is AbortSignal => s !== undefined);
    if (timeout) signals.push(AbortSignal.timeout(options.timeoutMs ?? DEFAULT_TIMEOUT_MS));
    return signals.length === 1 ? signals[0]! : AbortSignal.any(signals);
  }

  /** URL, headers and dispatcher of one authenticated call (the kubeconfig's credentials and TLS). */
  async #prepare(path: string, query: Record<string, string | undefined> = {}, accept = 'application/json') {
    const url = new URL(this.connection.server + path);
    for (const [key, value] of Object.entries(query)) if (value !== undefined) url.searchParams.set(key, value);
    const headers: Record<string, string> = { accept };
    // First: an exec plugin may set the client certificate the dispatcher presents.
    const authorization = await this.connection.authorization();
    if (authorization !== undefined) headers.authorization = authorization;
    return { url, headers, dispatcher: this.connection.dispatcher };
  }

  /** Reports one request to the observer, if any. */
  #observe(
    method: HttpMethod,
    path: string,
    code: string,
    seconds: number | undefined,
    options: { contentType?: string; watch?: boolean } = {},
  ): void {
    if (this.#observer === undefined) return;
    this.#observer.onRequest({ ...describeRequest(method, path, options), code, seconds });
  }

  async request<T>(
    method: HttpMethod,
    path: string,
    options: { query?: Record<string, string | undefined>; body?: unknown; contentType?: string } & CallOptions = {},
  ): Promise<T> {
    return parseJson<T>(`${method} ${path}`, await this.#call(method, path, options));
  }

  /** One call that succeeded (2xx/3xx), else a KubeApiError. */
  async #call(method: HttpMethod, path: string, options: SendOptions): Promise<Sent> {
    let res = await this.#send(method, path, options);
    // Expired exec-plugin credentials: run the plugin again and retry once (as client-go does).
    if (res.status === 401 && this.connection.refresh?.() === true) res = await this.#send(method, path, options);
    if (res.status >= 400) throw errorOf(`${method} ${path}`, res);
    return res;
  }

  /** One call and its whole response body, timed for the observer (a call with no response counts as "error"). */
  async #send(method: HttpMethod, path: string, options: SendOptions): Promise<Sent> {
    const signal = this.#signalOf(options, true);
    signal.throwIfAborted();
    const { url, headers, dispatcher } = await this.#prepare(path, options.query, options.accept);
    if (options.body !== undefined) headers['content-type'] = options.contentType ?? 'application/json';
    const started = this.#clock.now();
    let code = 'error';
    try {
      const res = await fetch(url, {
        method,
        headers,
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
        dispatcher,
        signal,
      });
      code = String(res.status);
      return sentOf(res, new Uint8Array(await res.arrayBuffer()));
    } finally {
      this.#observe(method, path, code, (this.#clock.now() - started) / 1000, { contentType: headers['content-type'] });
    }
  }

  /** One list call (one page when `query.limit` is set: the result's `continue` asks for the next). */
  async list<T extends KubeObject>(
    path: string,
    query: Record<string, string | undefined> = {},
    options: CallOptions & ProtobufOption<T> = {},
  ): Promise<ObjectList<T>> {
    const { protobuf } = options;
    const accept = protobuf === undefined ? undefined : PROTOBUF_ACCEPT;
    const res = await this.#call('GET', path, { query, ...options, accept });
    if (protobuf !== undefined && isProtobuf(res.contentType)) {
      try {
        return decodeList(res.bytes, protobuf);
      } catch (error) {
        throw error instanceof ProtobufError ? new ProtobufError(`GET ${path}: ${error.message}`) : error;
      }
    }
    const out = parseJson<{ items?: T[] | null; metadata?: { resourceVersion?: string; continue?: string } }>(
      `GET ${path}`,
      res,
    );
    const token = out?.metadata?.continue;
    return {
      items: out?.items ?? [],
      resourceVersion: out?.metadata?.resourceVersion ?? '',
      continue: token === undefined || token === '' ? undefined : token,
    };
  }

  /**
   * Opens a watch and yields its events until the server ends it (return) or it fails (throw).
   * Unlike @kubernetes/client-node's Watch (2.0.1 aborts any watch silent for 30 s, shorter than
   * the apiserver's one-minute bookmarks), there is no client-side timer: the server's
   * `timeoutSeconds` ends a watch, and the caller's `signal` (its watchdog) aborts one.
   */
  async *watch(
    path: string,
    query: Record<string, string | undefined>,
    signal: AbortSignal,
    options: ProtobufOption<unknown> = {},
  ): AsyncGenerator<WatchEvent> {
    const bound = this.#signalOf({ signal }, false);
    const { protobuf } = options;
    const accept = protobuf === undefined ? undefined : PROTOBUF_ACCEPT;
    const { url, headers, dispatcher } = await this.#prepare(path, { ...query, watch: 'true' }, accept);
    let res: Awaited<ReturnType<typeof fetch>>;
    try {
      res = await fetch(url, { method: 'GET', headers, dispatcher, signal: bound });
    } catch (error) {
      this.#observe('GET', path, 'error', undefined, { watch: true });
      throw error;
    }
    // The start of a watch is counted; the stream's lifetime is no request latency.
    this.#observe('GET', path, String(res.status), undefined, { watch: true });
    if (res.status !== 200 || res.body === null) {
      if (res.status === 401) this.connection.refresh?.();
      const bytes = new Uint8Array(await res.arrayBuffer().catch(() => new ArrayBuffer(0)));
      throw errorOf(`watch ${path}`, sentOf(res, bytes));
    }
    if (protobuf !== undefined && isProtobuf(res.headers.get('content-type') ?? '')) {
      for await (const frame of readWatchFrames(res.body, MAX_WATCH_LINE_BYTES))
        yield decodeWatchEvent(frame, protobuf);
    } else yield* readWatchLines(res.body, MAX_WATCH_LINE_BYTES);
  }

  /** GET, or undefined on 404. */
  async get<T>(path: string, options: CallOptions = {}): Promise<T | undefined> {
    try {
      return await this.request<T>('GET', path, options);
    } catch (error) {
      if (error instanceof KubeApiError && error.status === 404) return undefined;
      throw error;
    }
  }

  /** Server-side apply: this manager owns the fields it sends. */
  apply<T>(path: string, object: unknown, fieldManager: string, options: CallOptions = {}): Promise<T> {
    return this.request<T>('PATCH', path, {
      body: object,
      contentType: 'application/apply-patch+yaml',
      query: { fieldManager, force: 'true' },
      ...options,
    });
  }

  mergePatch<T>(path: string, patch: unknown, options: CallOptions = {}): Promise<T> {
    return this.request<T>('PATCH', path, { body: patch, contentType: 'application/merge-patch+json', ...options });
  }
}

function sentOf(res: Awaited<ReturnType<typeof fetch>>, bytes: Uint8Array): Sent {
  const contentType = res.headers.get('content-type') ?? '';
  return {
    status: res.status,
    statusText: res.statusText,
    contentType,
    retryAfter: res.headers.get('retry-after'),
    text: isProtobuf(contentType) ? '' : new TextDecoder().decode(bytes),
    bytes,
  };
}

function parseJson<T>(what: string, res: Sent): T {
  if (res.text === '') return undefined as T;
  try {
    return JSON.parse(res.text) as T;
  } catch {
    throw new KubeApiError(
      res.status,
      `${what}: the response is not JSON (${res.contentType || 'no content-type'}, ${res.bytes.length} bytes)`,
      'InvalidResponse',
    );
  }
}

/**
 * The error of a failed response. A Status body gives the message, reason and retryAfterSeconds;
 * any other body (an HTML page from a proxy, plain text) is not quoted, only described.
 */
function errorOf(what: string, res: Sent): KubeApiError {
  let status: { message?: unknown; reason?: unknown; details?: { retryAfterSeconds?: unknown } } | undefined;
  if (isProtobuf(res.contentType)) status = statusOfBody(res.bytes);
  else
    try {
      const parsed = JSON.parse(res.text) as unknown;
      if (parsed !== null && typeof parsed === 'object') status = parsed as typeof status;
    } catch {
      // not JSON
    }
  const header = res.retryAfter === null ? undefined : Number(res.retryAfter);
  const detail = status?.details?.retryAfterSeconds;
  const retryAfter =
    header !== undefined && Number.isFinite(header) && header >= 0
      ? header
      : typeof detail === 'number'
        ? detail
        : undefined;
  const message =
    typeof status?.message === 'string'
      ? status.message
      : `${res.status} ${res.statusText}${res.bytes.length === 0 ? '' : ` (a ${res.contentType || 'non-JSON'} body of ${res.bytes.length} bytes)`}`;
  return new KubeApiError(
    res.status,
    `${what}: ${message}`,
    typeof status?.reason === 'string' ? status.reason : undefined,
    retryAfter,
  );
}

export function keyOf(object: KubeObject): string {
  return object.metadata.namespace === undefined
    ? object.metadata.name
    : `${object.metadata.namespace}/${object.metadata.name}`;
}

/** Loads $KUBECONFIG (or ~/.kube/config), else the in-cluster service account. */
export function loadKubeConfig(): KubeConnection {
  return loadKubeConnection();
}
