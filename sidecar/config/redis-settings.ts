/**
 * router_settings.redis_* (LiteLLM's names) -> where the pool's shared budget lives. Pure. A bad
 * value is a problem naming its key (the reload is refused and the last good config keeps
 * serving); a password never appears in a problem, a log line or /lb/config.
 */
import type { ConfigFile } from '../../common/config-schema.ts';

export interface RedisTarget {
  readonly host: string;
  readonly port: number;
  readonly username: string | undefined;
  readonly password: string | undefined;
  readonly db: number;
  readonly tls: boolean;
  /** Names the pool in every key. */
  readonly keyPrefix: string;
  /** Where, without credentials: for logs and /lb/config. */
  readonly display: string;
}

const ENV_REF = 'os.environ/';
const DEFAULT_KEY_PREFIX = 'reranker-lb';

type Lookup = (name: string) => string | undefined;

function password(raw: string | undefined, lookup: Lookup, problems: string[]): string | undefined {
  if (raw === undefined || !raw.startsWith(ENV_REF)) return raw;
  const name = raw.slice(ENV_REF.length);
  const value = lookup(name);
  if (value === undefined || value === '')
    problems.push(`router_settings.redis_password: environment variable ${name} is not set`);
  return value;
}

function fromUrl(raw: string, problems: string[]): Omit<RedisTarget, 'keyPrefix' | 'display'> | undefined {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    problems.push('router_settings.redis_url: expected redis://host:port or rediss://host:port');
    return undefined;
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
    problems.push(`router_settings.redis_url: expected the redis:// or rediss:// scheme, got ${url.protocol}//`);
    return undefined;
  }
  const db = url.pathname === '' || url.pathname === '/' ? 0 : Number(url.pathname.slice(1));
  if (!Number.isInteger(db) || db < 0) {
    problems.push('router_settings.redis_url: the path must be a database number (redis://host:6379/0)');
    return undefined;
  }
  if (url.hostname === '') {
    problems.push('router_settings.redis_url: no host');
    return undefined;
  }
  return {
    host: url.hostname.replace(/^\[|\]$/g, ''),
    port: url.port === '' ? 6379 : Number(url.port),
    username: url.username === '' ? undefined : decodeURIComponent(url.username),
    password: url.password === '' ? undefined : decodeURIComponent(url.password),
    db,
    tls: url.protocol === 'rediss:',
  };
}

/** The pool's Redis, undefined when none is configured (limits are split per sidecar). */
export function redisTarget(file: ConfigFile, lookup: Lookup, problems: string[]): RedisTarget | undefined {
  const r = file.router_settings;
  if (r.redis_url === undefined && r.redis_host === undefined) {
    for (const key of ['redis_port', 'redis_password'] as const) {
      if (r[key] !== undefined) problems.push(`router_settings.${key}: set redis_host or redis_url too`);
    }
    return undefined;
  }
  if (r.redis_url !== undefined && r.redis_host !== undefined) {
    problems.push('router_settings.redis_host: set redis_url or redis_host, not both');
    return undefined;
  }
  const prefix = r.redis_key_prefix ?? DEFAULT_KEY_PREFIX;
  if (/[{}\s]/.test(prefix)) problems.push('router_settings.redis_key_prefix: no braces or spaces');
  const secret = password(r.redis_password, lookup, problems);
  const base =
    r.redis_url === undefined
      ? { host: r.redis_host!, port: r.redis_port ?? 6379, username: undefined, password: undefined, db: 0, tls: false }
      : fromUrl(r.redis_url, problems);
  if (base === undefined) return undefined;
  const host = base.host.includes(':') ? `[${base.host}]` : base.host;
  return {
    ...base,
    password: secret ?? base.password,
    keyPrefix: prefix,
    display: `${base.tls ? 'rediss' : 'redis'}://${host}:${base.port}/${base.db}`,
  };
}
