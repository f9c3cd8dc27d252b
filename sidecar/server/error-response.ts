/** The one place errors become HTTP responses. */
import type { ServerResponse } from 'node:http';
import { LbError } from '../errors.ts';
import { retryAfterHeader } from '../retry-after.ts';

export interface ErrorBody {
  readonly message: string;
  readonly error: { readonly code: string; readonly message: string; readonly field?: string };
}

export function toLbError(error: unknown): LbError {
  if (error instanceof LbError) return error;
  return new LbError('internal', 500, 'internal error', { cause: error });
}

/** `message` at the top level keeps Cohere-style clients' error text readable. */
function errorBody(error: LbError): ErrorBody {
  const inner =
    error.field === undefined
      ? { code: error.code, message: error.message }
      : { code: error.code, message: error.message, field: error.field };
  return { message: error.message, error: inner };
}

function errorHeaders(error: LbError, requestId: string | undefined): Record<string, string> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  const retryAfter = retryAfterHeader(error.retryAfterSeconds);
  if (retryAfter !== undefined) headers['retry-after'] = retryAfter;
  if (requestId !== undefined) headers['x-request-id'] = requestId;
  return headers;
}

export function errorResponse(error: LbError, requestId: string | undefined): Response {
  return new Response(JSON.stringify(errorBody(error)), {
    status: error.status,
    headers: errorHeaders(error, requestId),
  });
}

/** The same answer as `errorResponse`, written on Node's response (the rerank routes). */
export function writeError(outgoing: ServerResponse, error: LbError, requestId: string | undefined): void {
  outgoing.statusCode = error.status;
  for (const [name, value] of Object.entries(errorHeaders(error, requestId))) outgoing.setHeader(name, value);
  outgoing.end(JSON.stringify(errorBody(error)));
}
