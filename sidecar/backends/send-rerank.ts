/** One attempt at one backend: translate, send, classify, validate. Throws AttemptError. */
import type { RankedAnswer, RerankRequest } from '../api/canonical.ts';
import type { ApiFormat } from '../config/schema.ts';
import { AttemptError, classifyStatus, parseRetryAfter } from './attempt-error.ts';
import { BACKEND_CODECS } from './formats/index.ts';
import type { HttpClient, HttpTarget } from './http-client.ts';
import { rankAnswer } from './rank.ts';

export interface SendTarget {
  readonly target: HttpTarget;
  readonly apiFormat: ApiFormat;
  readonly apiKey: string | undefined;
  readonly model: string | undefined;
  readonly retryOnStatus: ReadonlySet<number>;
}

export interface SendOptions {
  readonly timeoutMs: number;
  /** The caller's Authorization header, forwarded only to backends without a key of their own. */
  readonly callerAuthorization: string | undefined;
  readonly wallNow: number;
}

const JSON_HEADERS = { 'content-type': 'application/json', accept: 'application/json' } as const;

function headersFor(apiKey: string | undefined, callerAuthorization: string | undefined): Record<string, string> {
  const authorization = apiKey === undefined ? callerAuthorization : `Bearer ${apiKey}`;
  return authorization === undefined ? JSON_HEADERS : { ...JSON_HEADERS, authorization };
}

function describeNetworkError(error: unknown): AttemptError {
  const err = error as { name?: string; code?: string; message?: string };
  if (err.name === 'TimeoutError' || err.name === 'AbortError' || err.code === 'UND_ERR_HEADERS_TIMEOUT' || err.code === 'UND_ERR_BODY_TIMEOUT') {
    return new AttemptError('timeout', 'timed out', { cause: error });
  }
  if (err.name === 'SyntaxError') return new AttemptError('malformed', 'answer is not JSON', { cause: error });
  return new AttemptError('network', err.code ?? err.message ?? 'connection failed', { cause: error });
}

function errorDetail(body: unknown): string {
  return typeof body === 'string' ? body.replace(/\s+/g, ' ').trim() : '';
}

export async function sendRerank(
  client: HttpClient,
  to: SendTarget,
  request: RerankRequest,
  options: SendOptions,
): Promise<RankedAnswer> {
  const codec = BACKEND_CODECS[to.apiFormat];
  const payload = JSON.stringify(codec.buildBody(request, to.model));
  let answer;
  try {
    answer = await client.request(to.target, codec.rerankPath, 'POST', headersFor(to.apiKey, options.callerAuthorization), payload, options.timeoutMs);
  } catch (error) {
    throw describeNetworkError(error);
  }
  if (answer.status < 200 || answer.status >= 300) {
    const retryAfterMs = parseRetryAfter(answer.headers['retry-after'], options.wallNow);
    throw classifyStatus(answer.status, retryAfterMs, { retryOnStatus: to.retryOnStatus, ownKey: to.apiKey !== undefined }, errorDetail(answer.body));
  }
  try {
    const tokenHeader = answer.headers['x-compute-tokens'];
    const parsed = codec.readAnswer(answer.body, typeof tokenHeader === 'string' ? tokenHeader : undefined);
    return rankAnswer(parsed, request.documents.length, request.topN);
  } catch (defect) {
    throw new AttemptError('malformed', `malformed answer: ${String(defect)}`);
  }
}

export async function checkHealth(client: HttpClient, target: HttpTarget, path: string, timeoutMs: number): Promise<string | undefined> {
  try {
    const answer = await client.request(target, path, 'GET', {}, undefined, timeoutMs);
    return answer.status >= 200 && answer.status < 300 ? undefined : `health check answered HTTP ${answer.status}`;
  } catch (error) {
    return `health check failed: ${describeNetworkError(error).message}`;
  }
}
