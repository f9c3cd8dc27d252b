/** One attempt at one backend: translate, send, classify, validate. Throws AttemptError. */
import type { RankedAnswer, RerankRequest } from '../api/canonical.ts';
import type { ApiFormat } from '../../common/config-schema.ts';
import { redact } from '../../common/redact.ts';
import { AttemptError, classifyStatus } from './attempt-error.ts';
import { parseRetryAfter } from '../retry-after.ts';
import { BACKEND_CODECS } from './formats/index.ts';
import { MalformedAnswer } from './formats/read-answer.ts';
import type { HttpClient, HttpTarget } from './http-client.ts';
import { rankAnswer } from './rank.ts';

export interface SendTarget {
  readonly target: HttpTarget;
  readonly apiFormat: ApiFormat;
  readonly apiKey: string | undefined;
  readonly model: string | undefined;
  readonly retryOnStatus: ReadonlySet<number>;
  /** Send the caller's Authorization to this backend when it has no key of its own (opt-in). */
  readonly forwardCallerAuthorization: boolean;
  readonly maxResponseBytes: number;
  /** JSON headers, with the backend's own key when it has one: built once, not per attempt. */
  readonly headers: Readonly<Record<string, string>>;
  /** Takes the load an answer reports (TEI's x-queue-time and x-inference-time, ms); built once per backend. */
  readonly loadReport?: (queueMs: number, inferenceMs: number) => void;
}

export interface SendOptions {
  readonly timeoutMs: number;
  /** The caller's Authorization header; sent only where `forwardCallerAuthorization` allows. */
  readonly callerAuthorization: string | undefined;
  readonly wallNow: number;
  /** Aborted when the caller disconnects. */
  readonly signal: AbortSignal | undefined;
}

const JSON_HEADERS = { 'content-type': 'application/json', accept: 'application/json' } as const;

/** The headers every call to a backend with this key (or none) carries. */
export function backendHeaders(apiKey: string | undefined): Readonly<Record<string, string>> {
  return apiKey === undefined ? JSON_HEADERS : { ...JSON_HEADERS, authorization: `Bearer ${apiKey}` };
}

/** Failures below HTTP, in our own words: the error's stable code, never its message text. */
export function describeNetworkError(error: unknown): AttemptError {
  const err = error as { name?: string; code?: string };
  if (err.code === 'RESPONSE_TOO_LARGE')
    return new AttemptError('oversized', 'answer larger than max_response_bytes', { cause: error });
  if (
    err.code === 'RESPONSE_DEADLINE' ||
    err.name === 'TimeoutError' ||
    err.code === 'UND_ERR_HEADERS_TIMEOUT' ||
    err.code === 'UND_ERR_BODY_TIMEOUT'
  ) {
    return new AttemptError('timeout', 'timed out', { cause: error });
  }
  if (err.name === 'AbortError' || err.code === 'UND_ERR_ABORTED')
    return new AttemptError('cancelled', 'cancelled: the caller went away', { cause: error });
  if (err.code === 'UND_ERR_CONNECT_TIMEOUT') return new AttemptError('network', 'connect timed out', { cause: error });
  const code = typeof err.code === 'string' && /^[A-Z0-9_]{2,40}$/.test(err.code) ? err.code : undefined;
  return new AttemptError('network', code === undefined ? 'connection failed' : `connection failed (${code})`, {
    cause: error,
  });
}

/** A timing header in ms; NaN when absent or not a plain non-negative number (backend text is untrusted). */
function headerMs(value: string | string[] | undefined): number {
  const raw = Array.isArray(value) ? value[0] : value;
  if (raw === undefined || raw.length === 0 || raw.length > 16) return Number.NaN;
  const n = Number(raw);
  return Number.isFinite(n) && n >= 0 ? n : Number.NaN;
}

export async function sendRerank(
  client: HttpClient,
  to: SendTarget,
  request: RerankRequest,
  options: SendOptions,
): Promise<RankedAnswer> {
  const codec = BACKEND_CODECS[to.apiFormat];
  const payload = JSON.stringify(codec.buildBody(request, to.model));
  // The caller's Authorization goes only where opted in, and only to a backend without its own key.
  const caller = to.apiKey === undefined && to.forwardCallerAuthorization ? options.callerAuthorization : undefined;
  const headers = caller === undefined ? to.headers : { ...JSON_HEADERS, authorization: caller };
  const credentials = to.apiKey !== undefined ? 'own' : caller !== undefined ? 'caller' : 'none';
  let answer: Awaited<ReturnType<typeof client.request>>;
  try {
    answer = await client.request(to.target, codec.rerankPath, 'POST', headers, payload, {
      timeoutMs: options.timeoutMs,
      maxBytes: to.maxResponseBytes,
      signal: options.signal,
    });
  } catch (error) {
    throw describeNetworkError(error);
  }
  if (to.loadReport !== undefined) {
    const queueMs = headerMs(answer.headers['x-queue-time']);
    if (!Number.isNaN(queueMs)) to.loadReport(queueMs, headerMs(answer.headers['x-inference-time']));
  }
  if (answer.status < 200 || answer.status >= 300) {
    const retryAfterMs = parseRetryAfter(answer.headers['retry-after'], options.wallNow);
    const detail =
      answer.errorText === '' ? undefined : redact(answer.errorText, [to.apiKey, options.callerAuthorization]);
    throw classifyStatus(answer.status, retryAfterMs, { retryOnStatus: to.retryOnStatus, credentials }, detail);
  }
  let body: unknown;
  try {
    body = JSON.parse(answer.body.toString('utf8'));
  } catch {
    throw new AttemptError('malformed', 'malformed answer: not JSON');
  }
  try {
    const tokenHeader = answer.headers['x-compute-tokens'];
    const parsed = codec.readAnswer(body, typeof tokenHeader === 'string' ? tokenHeader : undefined);
    return rankAnswer(parsed, request.documents.length, request.topN);
  } catch (defect) {
    if (defect instanceof MalformedAnswer) throw new AttemptError('malformed', `malformed answer: ${defect.message}`);
    throw defect;
  }
}
