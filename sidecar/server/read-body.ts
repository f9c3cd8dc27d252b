/**
 * Reads a JSON request body straight from Node's IncomingMessage, enforcing the size limit while
 * reading. This skips the web ReadableStream that Request.json() would build per call (about a
 * tenth of the sidecar's CPU per request in a profile at 9 KB bodies).
 */
import type { IncomingMessage } from 'node:http';
import { invalidRequest, LbError } from '../errors.ts';

function tooLarge(max: number): LbError {
  return new LbError('payload_too_large', 413, `body: larger than ${max} bytes`, { field: 'body' });
}

export function readJsonBody(incoming: IncomingMessage, maxBytes: number): Promise<unknown> {
  const declared = Number(incoming.headers['content-length']);
  if (declared > maxBytes) {
    incoming.resume();
    return Promise.reject(tooLarge(maxBytes));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    function onData(chunk: Buffer): void {
      size += chunk.length;
      if (size > maxBytes) {
        incoming.off('data', onData);
        incoming.resume();
        reject(tooLarge(maxBytes));
        return;
      }
      chunks.push(chunk);
    }
    function onEnd(): void {
      if (size > maxBytes) return;
      const text = chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks, size).toString('utf8');
      try {
        resolve(JSON.parse(text));
      } catch {
        reject(invalidRequest('body', 'expected a valid JSON document'));
      }
    }
    incoming.on('data', onData);
    incoming.once('end', onEnd);
    incoming.once('error', reject);
  });
}
