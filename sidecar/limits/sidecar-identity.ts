/**
 * This sidecar's name in the pool's concurrency hash: the pod's name (the hostname), and a
 * per-process suffix so a restarted container never renews its predecessor's slots.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';

export function sidecarIdentity(): string {
  return `${hostname()}/${process.pid}/${randomBytes(4).toString('hex')}`;
}
