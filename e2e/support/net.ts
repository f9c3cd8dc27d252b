/**
 * Non-loopback addresses for e2e backends and sidecars: EndpointSlices reject 127.0.0.0/8, so
 * processes listen on 198.18.<RRLB_E2E_NET>.x (default 42; benchmarking range, absent from this machine's routes), set on
 * one end of a veth pair in the host's namespace. Needs root, as on the dev machines and CI.
 */
import { execFileSync } from 'node:child_process';

/**
 * RRLB_E2E_NET (default 42) picks the third octet and the link names, so two suites (two
 * worktrees, or CI beside a developer) can run at once without deleting each other's addresses.
 */
const NET =
  /^\d{1,3}$/.test(process.env.RRLB_E2E_NET ?? '') && Number(process.env.RRLB_E2E_NET) < 200
    ? process.env.RRLB_E2E_NET!
    : '42';
const LINK = `rrlb-e2e${NET}a`;
const PEER = `rrlb-e2e${NET}b`;
const SUBNET = `198.18.${NET}`;

function ip(args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** Makes <SUBNET>.1 .. .count usable on this machine. */
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
