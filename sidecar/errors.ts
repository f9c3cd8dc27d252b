/**
 * Errors with stable codes. Every error a client can see is one of these; `server/error-response.ts`
 * maps them to HTTP in one place.
 */
export type ErrorCode =
  | 'invalid_request'
  | 'payload_too_large'
  | 'not_found'
  | 'unauthorized'
  | 'backend_rejected_request'
  | 'no_backend_available'
  | 'rate_limited'
  | 'upstream_failed'
  | 'unsupported_media_type'
  | 'client_closed_request'
  | 'config_invalid'
  | 'internal';

export class LbError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  /** The request field at fault, when there is one (e.g. `documents[2].text`). */
  readonly field: string | undefined;
  /** Seconds a client should wait, sent as Retry-After. */
  readonly retryAfterSeconds: number | undefined;

  constructor(
    code: ErrorCode,
    status: number,
    message: string,
    opts: { field?: string; retryAfterSeconds?: number; cause?: unknown } = {},
  ) {
    super(message, { cause: opts.cause });
    this.name = 'LbError';
    this.code = code;
    this.status = status;
    this.field = opts.field;
    this.retryAfterSeconds = opts.retryAfterSeconds;
  }
}

export function invalidRequest(field: string, expectation: string): LbError {
  return new LbError('invalid_request', 400, `${field}: ${expectation}`, { field });
}

/** A config file or document that cannot be used; `problems` each start with the path at fault. */
export class ConfigError extends Error {
  readonly code = 'config_invalid' as const;
  readonly problems: readonly string[];

  constructor(source: string, problems: readonly string[]) {
    super(`invalid config ${source}:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}
