/** Admin endpoints need `Authorization: Bearer <token>`; with no token configured they are off. */
import { timingSafeEqual, createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { MiddlewareHandler } from 'hono';
import { LbError } from '../errors.ts';
import { errorResponse } from './error-response.ts';

/** RERANKER_ADMIN_TOKEN_FILE (a mounted Secret) wins over RERANKER_ADMIN_TOKEN. */
export function adminTokenFrom(env: Readonly<Record<string, string | undefined>>): string | undefined {
  const file = env.RERANKER_ADMIN_TOKEN_FILE;
  const token = file !== undefined && file !== '' ? readFileSync(file, 'utf8').trim() : env.RERANKER_ADMIN_TOKEN?.trim();
  return token === undefined || token === '' ? undefined : token;
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

export function requireAdmin(token: string | undefined): MiddlewareHandler {
  const expected = token === undefined ? undefined : digest(token);
  return async function adminOnly(c, next) {
    if (expected === undefined) {
      return errorResponse(new LbError('not_found', 404, 'the admin API is off: set RERANKER_ADMIN_TOKEN or RERANKER_ADMIN_TOKEN_FILE'), undefined);
    }
    const header = c.req.header('authorization') ?? '';
    const given = header.startsWith('Bearer ') ? header.slice(7).trim() : '';
    if (given === '' || !timingSafeEqual(digest(given), expected)) {
      return errorResponse(new LbError('unauthorized', 401, 'admin endpoints need Authorization: Bearer <admin token>'), undefined);
    }
    await next();
    return undefined;
  };
}
