/**
 * Redaction of untrusted text (a backend's error body) before it is logged. Backends echo
 * credentials in their errors (`auth=Bearer sk-...`, a URL with userinfo, part of a key); this
 * removes the secrets we know (configured keys, the caller's token) and anything shaped like one.
 * The result is still untrusted: it goes to the log only, never to a caller or a public endpoint.
 */

const MAX_TEXT = 300;
const REDACTED = '[redacted]';

/** `Bearer <token>` / `Basic <token>` in any case. */
const AUTH_SCHEME = /\b(bearer|basic|token)\s+[^\s"',;]+/gi;
/** `scheme://user:password@host` -> `scheme://[redacted]@host`. */
const URL_USERINFO = /([a-z][a-z0-9+.-]*:\/\/)[^\s/@"']+@/gi;
/** `api_key=...`, `"password": "..."`, `token: ...`. */
const KEY_VALUE =
  /\b((?:api[_-]?key|apikey|key|token|secret|password|passwd|authorization|auth)["']?\s*[:=]\s*["']?)[^\s"',;&}]+/gi;
/** Long runs of key-ish characters that mix letters and digits (sk-..., hex digests, base64). */
const KEY_LIKE = /[A-Za-z0-9_\-+/=.]{20,}/g;

function looksLikeKey(token: string): boolean {
  return /[0-9]/.test(token) && /[A-Za-z]/.test(token);
}

/**
 * Returns `text` (whitespace collapsed, cut to 300 chars) with secrets removed: each of `known`
 * (keys from the config, the caller's token), then patterns of credentials.
 */
export function redact(text: string, known: readonly (string | undefined)[] = []): string {
  let out = text.length > 4 * MAX_TEXT ? text.slice(0, 4 * MAX_TEXT) : text;
  for (const secret of known) {
    if (secret !== undefined && secret.length >= 4) out = out.split(secret).join(REDACTED);
  }
  out = out
    .replace(AUTH_SCHEME, (_m, scheme: string) => `${scheme} ${REDACTED}`)
    .replace(URL_USERINFO, (_m, scheme: string) => `${scheme}${REDACTED}@`)
    .replace(KEY_VALUE, (_m, prefix: string) => `${prefix}${REDACTED}`)
    .replace(KEY_LIKE, (token) => (looksLikeKey(token) ? REDACTED : token))
    .replace(/\s+/g, ' ')
    .trim();
  return out.length > MAX_TEXT ? `${out.slice(0, MAX_TEXT)}…` : out;
}

/** A URL as text without its userinfo, query or fragment (safe to show in messages). */
export function safeUrl(raw: string): string {
  try {
    const url = new URL(raw);
    return `${url.protocol}//${url.host}${url.pathname === '/' ? '' : url.pathname}`;
  } catch {
    return raw.replace(URL_USERINFO, (_m, scheme: string) => `${scheme}${REDACTED}@`).replace(/[?#].*$/, '');
  }
}
