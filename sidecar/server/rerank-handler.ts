/**
 * Thin edge: JSON in -> canonical request -> balancer -> caller's format out, on Node's own
 * request and response: no web Request, Headers or Response per call (building and converting
 * them cost about 8% of the sidecar's CPU per call on the pinned method).
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { readJsonBody } from './read-body.ts';
import { requestHeader } from './node-request.ts';
import type { ClientFormat } from '../api/canonical.ts';
import { CLIENT_CODECS, formatOfRerankPath } from '../api/client-formats/index.ts';
import { asBody } from '../api/request-fields.ts';
import type { Balancer } from '../balancer/balancer.ts';
import type { Generation } from '../balancer/generation.ts';
import { RouteError, type AttemptRecord, type ChunkRecord, type RouteResult } from '../balancer/route-result.ts';
import { LbError } from '../errors.ts';
import type { Logger } from '../../common/logger.ts';
import { toLbError, writeError } from './error-response.ts';
import type { Metrics } from '../metrics/metrics.ts';
import { outcomeOfStatus, type RequestTotals } from './in-flight.ts';
import { parsePriority, parseTenant, PRIORITY_HEADER, TENANT_HEADER } from './flow-headers.ts';

export interface RerankDeps {
  readonly balancer: Balancer;
  readonly logger: Logger;
  readonly enabled: boolean;
  readonly now: () => number;
  readonly metrics: Metrics;
  readonly totals: RequestTotals;
}

const BACKEND_HEADER = 'x-reranker-lb-backend';
const FALLBACK_HEADER = 'x-reranker-lb-fallback';

interface LogFields {
  readonly requestId: string;
  readonly format: ClientFormat | 'unknown';
  readonly status: number;
  readonly started: number;
  readonly documents: number;
  readonly attempts: readonly AttemptRecord[];
  readonly estimatedTokens: number | undefined;
  readonly fallback: boolean;
  /** The backend(s) that answered; on failures the last one tried. */
  readonly backend?: string;
  /** Split calls: which backend served which documents. */
  readonly chunks?: readonly ChunkRecord[] | undefined;
  readonly code?: string;
  readonly reason?: string;
}

/** Metrics, totals and (when enabled) the request log line: once per call. */
function recordCall(deps: RerankDeps, generation: Generation, f: LogFields): void {
  const outcome = outcomeOfStatus(f.status, f.fallback);
  deps.totals.record(outcome);
  deps.metrics.request(f.format, outcome, (deps.now() - f.started) / 1000);
  if (!generation.config.router.requestLogging) return;
  // Failures the backends caused are warnings, so LOG_LEVEL=warn still shows them.
  deps.logger[f.status >= 500 ? 'warn' : 'info'](
    {
      request_id: f.requestId,
      format: f.format,
      status: f.status,
      latency_ms: Math.round((deps.now() - f.started) * 100) / 100,
      documents: f.documents,
      estimated_tokens: f.estimatedTokens ?? null,
      attempts: f.attempts,
      // A hedged call's last record may be the attempt that lost, so the answer's own backend wins.
      backend: f.backend ?? (f.attempts.length === 0 ? null : f.attempts[f.attempts.length - 1]!.backend),
      fallback: f.fallback,
      chunks: f.chunks,
      error_code: f.code,
      reason: f.reason,
    },
    'rerank',
  );
}

/** `application/json` or `application/<anything>+json`, parameters allowed, any case. */
const JSON_MEDIA_TYPE = /^\s*application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i;

/**
 * Only JSON bodies are read. A browser may send `text/plain`, form or untyped bodies cross-site
 * without asking first (a CORS "simple request"); refusing them keeps a web page from spending
 * the sidecar's backend keys.
 */
function requireJson(contentType: string | undefined): void {
  if (contentType === undefined || !JSON_MEDIA_TYPE.test(contentType)) {
    throw new LbError('unsupported_media_type', 415, 'content-type: expected application/json', {
      field: 'content-type',
    });
  }
}

/** Aborted when the caller disconnects before its answer is written (cancels the attempts). */
function callerSignal(outgoing: ServerResponse): AbortSignal {
  const controller = new AbortController();
  outgoing.once('close', function abortOnEarlyClose() {
    if (!outgoing.writableFinished) controller.abort();
  });
  return controller.signal;
}

/** The answer, with the headers in the order (and case) Hono used to write them. */
function writeAnswer(outgoing: ServerResponse, payload: unknown, requestId: string, result: RouteResult): void {
  const text = JSON.stringify(payload);
  const headers: OutgoingHttpHeaders = result.local
    ? {
        'content-type': 'application/json',
        'x-request-id': requestId,
        [BACKEND_HEADER]: result.backend,
        [FALLBACK_HEADER]: 'local',
        'Content-Length': Buffer.byteLength(text),
      }
    : {
        'content-type': 'application/json',
        'x-request-id': requestId,
        [BACKEND_HEADER]: result.backend,
        'Content-Length': Buffer.byteLength(text),
      };
  outgoing.writeHead(200, headers);
  outgoing.end(text);
}

/**
 * Handles one rerank call in `format` (undefined: decide from the body, for the shared /rerank
 * path) and writes its answer. Never rejects.
 */
export async function handleRerank(
  incoming: IncomingMessage,
  outgoing: ServerResponse,
  deps: RerankDeps,
  format: ClientFormat | undefined,
): Promise<void> {
  const started = deps.now();
  const requestId = requestHeader(incoming, 'x-request-id') ?? randomUUID();
  let chosen: ClientFormat | 'unknown' = format ?? 'unknown';
  let documents = 0;
  let result: RouteResult;
  // One generation for the whole call: its limits, routing and logging settings.
  const generation = deps.balancer.generation;
  try {
    requireJson(requestHeader(incoming, 'content-type'));
    const priority = parsePriority(requestHeader(incoming, PRIORITY_HEADER));
    const tenant = parseTenant(requestHeader(incoming, TENANT_HEADER));
    const body = asBody(await readJsonBody(incoming, generation.config.router.maxBodyBytes));
    chosen = format ?? formatOfRerankPath(body);
    const codec = CLIENT_CODECS[chosen];
    const request = codec.parse(body);
    documents = request.documents.length;
    result = await deps.balancer.route(request, {
      callerAuthorization: requestHeader(incoming, 'authorization'),
      localOnly: !deps.enabled,
      signal: callerSignal(outgoing),
      generation,
      priority,
      tenant,
    });
    const payload = codec.render(request, result.answer, requestId);
    recordCall(deps, generation, {
      requestId,
      format: chosen,
      status: 200,
      started,
      documents,
      attempts: result.attempts,
      estimatedTokens: result.estimatedTokens,
      fallback: result.local,
      chunks: result.chunks,
      backend: result.backend,
    });
    writeAnswer(outgoing, payload, requestId, result);
  } catch (error) {
    const lbError = toLbError(error);
    if (lbError.code === 'internal') deps.logger.error({ err: error, request_id: requestId }, 'internal error');
    const attempts = error instanceof RouteError ? error.attempts : [];
    const reason = error instanceof RouteError ? error.reason : undefined;
    recordCall(deps, generation, {
      requestId,
      format: chosen,
      status: lbError.status,
      started,
      documents,
      attempts,
      estimatedTokens: undefined,
      fallback: false,
      code: lbError.code,
      reason,
    });
    writeError(outgoing, lbError, requestId);
  }
}
