/**
 * Non-loopback addresses for e2e backends and sidecars: EndpointSlices reject 127.0.0.0/8, so
 * processes listen on 198.18.42.x (benchmarking range, absent from this machine's routes), set on
 * one end of a veth pair in the host's namespace. Needs root, as on the dev machines and CI.
 */
import { execFileSync } from 'node:child_process';

const LINK = 'rrlb-e2e0';
const PEER = 'rrlb-e2e1';
export const SUBNET = '198.18.42';

function ip(args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** Makes 198.18.42.1 .. .count usable on this machine. */
export function setUpAddresses(count: number): string[] {
  tearDownAddresses();
  ip(['link', 'add', LINK, 'type', 'veth', 'peer', 'name', PEER]);
  const addresses = Array.from({ length: count }, (_, i) => `${SUBNET}.${i + 1}`);
  for (const address of addresses) ip(['addr', 'add', `${address}/32`, 'dev', PEER]);
  ip(['link', 'set', LINK, 'up']);
  ip(['link', 'set', PEER, 'up']);
  return addresses;
}

export function tearDownAddresses(): void {
  try {
    ip(['link', 'del', LINK]);
  } catch {
    // not there
  }
}
