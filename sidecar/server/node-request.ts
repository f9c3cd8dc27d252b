/**
 * The rerank routes read Node's IncomingMessage directly (no web Request per call). What they read
 * must be what Hono's `c.req.header()` and @hono/node-server's listener would have given them, so
 * a call answers the same on either path (sidecar.ts sends the unusual URLs through Hono).
 */
import type { IncomingMessage } from 'node:http';

function isHttpWhitespace(code: number): boolean {
  return code === 9 || code === 10 || code === 13 || code === 32;
}

function trimHttpWhitespace(value: string): string {
  let start = 0;
  let end = value.length;
  while (start < end && isHttpWhitespace(value.charCodeAt(start))) start++;
  while (end > start && isHttpWhitespace(value.charCodeAt(end - 1))) end--;
  return start === 0 && end === value.length ? value : value.slice(start, end);
}

/**
 * A request header by its lower-case name: every occurrence, trimmed, joined with ", " (as the
 * fetch Headers that Hono reads), or undefined. Node's own `headers` keeps only the first
 * Authorization or Content-Type, so the raw list is read.
 */
export function requestHeader(incoming: IncomingMessage, lowerName: string): string | undefined {
  const raw = incoming.rawHeaders;
  let value: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length !== lowerName.length || name.toLowerCase() !== lowerName) continue;
    const one = trimHttpWhitespace(raw[i + 1]!);
    value = value === undefined ? one : `${value}, ${one}`;
  }
  return value;
}

/** Hosts @hono/node-server takes without parsing a URL (its own fast check). */
const PLAIN_HOST = /^[a-z0-9._-]+(?::(?:[1-5]\d{3,4}|[6-9]\d{3}))?$/;

/** A Host that @hono/node-server accepts as is; any other goes through it to be judged. */
export function hasPlainHost(incoming: IncomingMessage): boolean {
  const host = incoming.headers.host;
  return host !== undefined && PLAIN_HOST.test(host);
}

/** How long, and how much, a refused body is read and thrown away before the connection is closed. */
const DISCARD_MS = 500;
const DISCARD_MAX_BYTES = 64 * 1024 * 1024;

/**
 * After an answer that did not read the whole body (415, 413): the rest is read and thrown away
 * for at most 500 ms and 64 MiB, then the connection is closed — what @hono/node-server does for
 * the other routes, so a caller cannot keep a refused upload going.
 */
export function discardUnreadBody(incoming: IncomingMessage): void {
  if (incoming.destroyed || incoming.readableEnded) return;
  let bytes = 0;
  const timer = setTimeout(forceClose, DISCARD_MS);
  timer.unref();
  function cleanup(): void {
    clearTimeout(timer);
    incoming.off('data', onData);
    incoming.off('end', cleanup);
    incoming.off('error', cleanup);
  }
  function forceClose(): void {
    cleanup();
    const socket = incoming.socket;
    if (!socket.destroyed) socket.destroySoon();
  }
  function onData(chunk: Buffer): void {
    bytes += chunk.length;
    if (bytes > DISCARD_MAX_BYTES) forceClose();
  }
  incoming.on('data', onData);
  incoming.on('end', cleanup);
  incoming.on('error', cleanup);
  incoming.resume();
}
