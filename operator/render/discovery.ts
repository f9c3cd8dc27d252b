/**
 * Pure: EndpointSlices of a Service -> backends. An endpoint counts while `ready` (nil means ready,
 * as the API documents) and not `terminating`; each address becomes one backend named after its
 * target pod. Output is sorted, so equal inputs give equal configs.
 */
import type { DiscoveryEntry } from '../crd/pool-schema.ts';

/** The subset of discovery.k8s.io/v1 EndpointSlice the operator reads. */
export interface EndpointSlice {
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  addressType?: string;
  ports?: { name?: string; port?: number; protocol?: string }[] | null;
  endpoints?: {
    addresses: string[];
    conditions?: { ready?: boolean | null; serving?: boolean | null; terminating?: boolean | null };
    targetRef?: { kind?: string; name?: string };
    hostname?: string;
  }[];
}

export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

export interface DiscoveredEndpoint {
  /** Stable name: <service>/<pod> (or the address when no pod is named). */
  readonly name: string;
  readonly apiBase: string;
  readonly ready: boolean;
}

function portOf(slice: EndpointSlice, entry: DiscoveryEntry): number | undefined {
  const ports = slice.ports ?? [];
  if (entry.portName !== undefined) return ports.find((p) => p.name === entry.portName)?.port;
  if (entry.port !== undefined) return entry.port;
  return ports.length === 1 ? ports[0]!.port : undefined;
}

function hostOf(address: string): string {
  return address.includes(':') ? `[${address}]` : address;
}

/** Every endpoint address of the entry's Service, ready or not (status counts both). */
export function discoverEndpoints(entry: DiscoveryEntry, slices: readonly EndpointSlice[]): DiscoveredEndpoint[] {
  const found = new Map<string, DiscoveredEndpoint>();
  for (const slice of slices) {
    if (slice.metadata.labels?.[SERVICE_NAME_LABEL] !== entry.service) continue;
    if (slice.addressType === 'FQDN') continue;
    const port = portOf(slice, entry);
    if (port === undefined) continue;
    for (const endpoint of slice.endpoints ?? []) {
      const ready = endpoint.conditions?.ready !== false && endpoint.conditions?.terminating !== true;
      for (const address of endpoint.addresses) {
        const target = endpoint.targetRef?.name ?? address;
        const name = `${entry.service}/${endpoint.addresses.length > 1 ? `${target}-${address}` : target}`;
        const apiBase = `${entry.scheme}://${hostOf(address)}:${port}`;
        const previous = found.get(apiBase);
        // The same address in two slices (during a slice handover): ready wins.
        if (previous === undefined || (!previous.ready && ready)) found.set(apiBase, { name, apiBase, ready });
      }
    }
  }
  return [...found.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.apiBase < b.apiBase ? -1 : 1));
}
