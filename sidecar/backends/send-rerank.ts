/** One attempt at one backend: translate, send, classify, validate. Throws AttemptError. */
import type { RankedAnswer, RerankRequest } from '../api/canonical.ts';
import type { ApiFormat } from '../../common/config-schema.ts';
import { redact } from '../../common/redact.ts';
import { AttemptError, classifyStatus, parseRetryAfter } from './attempt-error.ts';
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

/** The Authorization this backend gets, and whose credentials those are. */
function credentialsFor(to: SendTarget, callerAuthorization: string | undefined): { headers: Record<string, string>; credentials: 'own' | 'caller' | 'none' } {
  if (to.apiKey !== undefined) return { headers: { ...JSON_HEADERS, authorization: `Bearer ${to.apiKey}` }, credentials: 'own' };
  if (to.forwardCallerAuthorization && callerAuthorization !== undefined) {
    return { headers: { ...JSON_HEADERS, authorization: callerAuthorization }, credentials: 'caller' };
  }
  return { headers: JSON_HEADERS, credentials: 'none' };
}

/** Failures below HTTP, in our own words: the error's stable code, never its message text. */
export function describeNetworkError(error: unknown): AttemptError {
  const err = error as { name?: string; code?: string };
  if (err.code === 'RESPONSE_TOO_LARGE') return new AttemptError('oversized', 'answer larger than max_response_bytes', { cause: error });
  if (err.code === 'RESPONSE_DEADLINE' || err.name === 'TimeoutError' || err.code === 'UND_ERR_HEADERS_TIMEOUT' || err.code === 'UND_ERR_BODY_TIMEOUT') {
    return new AttemptError('timeout', 'timed out', { cause: error });
  }
  if (err.name === 'AbortError' || err.code === 'UND_ERR_ABORTED') return new AttemptError('cancelled', 'cancelled: the caller went away', { cause: error });
  if (err.code === 'UND_ERR_CONNECT_TIMEOUT') return new AttemptError('network', 'connect timed out', { cause: error });
  const code = typeof err.code === 'string' && /^[A-Z0-9_]{2,40}$/.test(err.code) ? err.code : undefined;
  return new AttemptError('network', code === undefined ? 'connection failed' : `connection failed (${code})`, { cause: error });
}

export async function sendRerank(
  client: HttpClient,
  to: SendTarget,
  request: RerankRequest,
  options: SendOptions,
): Promise<RankedAnswer> {
  const codec = BACKEND_CODECS[to.apiFormat];
  const payload = JSON.stringify(codec.buildBody(request, to.model));
  const { headers, credentials } = credentialsFor(to, options.callerAuthorization);
  let answer;
  try {
    answer = await client.request(to.target, codec.rerankPath, 'POST', headers, payload, {
      timeoutMs: options.timeoutMs,
      maxBytes: to.maxResponseBytes,
      signal: options.signal,
    });
  } catch (error) {
    throw describeNetworkError(error);
  }
  if (answer.status < 200 || answer.status >= 300) {
    const retryAfterMs = parseRetryAfter(answer.headers['retry-after'], options.wallNow);
    const detail = answer.errorText === '' ? undefined : redact(answer.errorText, [to.apiKey, options.callerAuthorization]);
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
