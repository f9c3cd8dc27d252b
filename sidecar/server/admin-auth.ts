/** Admin endpoints need `Authorization: Bearer <token>`; with no token configured they are off. */
import { timingSafeEqual, createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { MiddlewareHandler } from 'hono';
import { ConfigError, LbError } from '../errors.ts';
import { errorResponse } from './error-response.ts';
import { envValue } from '../../common/settings/environment.ts';

/** RERANKER_ADMIN_TOKEN_FILE (a mounted Secret) wins over RERANKER_ADMIN_TOKEN. */
export function adminTokenFrom(env: Readonly<Record<string, string | undefined>>): string | undefined {
  const file = envValue(env, 'RERANKER_ADMIN_TOKEN_FILE');
  let token = envValue(env, 'RERANKER_ADMIN_TOKEN')?.trim();
  if (file !== undefined) {
    try {
      token = readFileSync(file, 'utf8').trim();
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? 'unreadable';
      throw new ConfigError('(environment)', [`RERANKER_ADMIN_TOKEN_FILE: cannot read ${file} (${code})`]);
    }
    if (token === '') throw new ConfigError('(environment)', [`RERANKER_ADMIN_TOKEN_FILE: ${file} is empty`]);
  }
  return token === undefined || token === '' ? undefined : token;
}

/** The token of `Authorization: Bearer <token>`; the scheme is case-insensitive (RFC 9110). */
function bearerToken(header: string | undefined): string {
  const match = header === undefined ? null : /^\s*bearer\s+(\S+)\s*$/i.exec(header);
  return match === null ? '' : match[1]!;
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

export function requireAdmin(token: string | undefined): MiddlewareHandler {
  const expected = token === undefined ? undefined : digest(token);
  return async function adminOnly(c, next) {
    if (expected === undefined) {
      return errorResponse(
        new LbError('not_found', 404, 'the admin API is off: set RERANKER_ADMIN_TOKEN or RERANKER_ADMIN_TOKEN_FILE'),
        undefined,
      );
    }
    const given = bearerToken(c.req.header('authorization'));
    if (given === '' || !timingSafeEqual(digest(given), expected)) {
      return errorResponse(
        new LbError('unauthorized', 401, 'admin endpoints need Authorization: Bearer <admin token>'),
        undefined,
      );
    }
    await next();
    return undefined;
  };
}
