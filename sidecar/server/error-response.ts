/** The one place errors become HTTP responses. */
import { LbError } from '../errors.ts';

export interface ErrorBody {
  readonly message: string;
  readonly error: { readonly code: string; readonly message: string; readonly field?: string };
}

export function toLbError(error: unknown): LbError {
  if (error instanceof LbError) return error;
  return new LbError('internal', 500, 'internal error', { cause: error });
}

/** `message` at the top level keeps Cohere-style clients' error text readable. */
export function errorBody(error: LbError): ErrorBody {
  const inner = error.field === undefined ? { code: error.code, message: error.message } : { code: error.code, message: error.message, field: error.field };
  return { message: error.message, error: inner };
}

export function errorResponse(error: LbError, requestId: string | undefined): Response {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (error.retryAfterSeconds !== undefined) headers['retry-after'] = String(error.retryAfterSeconds);
  if (requestId !== undefined) headers['x-request-id'] = requestId;
  return new Response(JSON.stringify(errorBody(error)), { status: error.status, headers });
}
