/**
 * Pure: EndpointSlices of a Service -> backends, shared by the operator (which renders them into
 * the ConfigMap with `discovery_mode: rendered`, and counts them for status) and every sidecar
 * (which merges them itself in the default `sidecar` mode). Each address becomes one backend
 * named after its target pod; its conditions say what it may do (the kubelet's readiness probe is
 * its health): `ready` (nil means ready, as the API documents) -> takes calls; `serving` while
 * `terminating` -> only when nothing ready is left; not ready -> only when nothing else is (the
 * operator renders ready ones only). Output is sorted, so equal inputs give equal configs.
 */
import { createHash } from 'node:crypto';

/** The subset of discovery.k8s.io/v1 EndpointSlice that discovery reads. */
export interface EndpointSlice {
  metadata: { name: string; namespace?: string; resourceVersion?: string; labels?: Record<string, string> };
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

/** What discovery needs of an entry (the CRD's `discovery[]` and the sidecar's `discovery[]` both have it). */
export interface DiscoveryTarget {
  readonly service: string;
  readonly portName?: string | undefined;
  readonly port?: number | undefined;
  readonly scheme: 'http' | 'https';
}

/** ready: takes calls; terminating: still serving while it shuts down (a last resort); not-ready: failing its probe (the last of all). */
export type EndpointState = 'ready' | 'terminating' | 'not-ready';

export interface DiscoveredEndpoint {
  /** Stable name: <service>/<pod> (or the address when no pod is named). */
  readonly name: string;
  readonly apiBase: string;
  /** Ready and not terminating (what the operator renders and counts as ready). */
  readonly ready: boolean;
  readonly state: EndpointState;
}

function portOf(slice: EndpointSlice, entry: DiscoveryTarget): number | undefined {
  const ports = slice.ports ?? [];
  if (entry.portName !== undefined) return ports.find((p) => p.name === entry.portName)?.port;
  if (entry.port !== undefined) return entry.port;
  return ports.length === 1 ? ports[0]!.port : undefined;
}

function hostOf(address: string): string {
  return address.includes(':') ? `[${address}]` : address;
}

type Conditions = NonNullable<NonNullable<EndpointSlice['endpoints']>[number]['conditions']>;

/** The API's rules: ready and serving are nil when unknown (read as true, as kube-proxy does); a terminating endpoint is never ready. */
function endpointState(conditions: Conditions | undefined): EndpointState {
  const terminating = conditions?.terminating === true;
  const ready = conditions?.ready !== false;
  if (!terminating) return ready ? 'ready' : 'not-ready';
  // As kube-proxy reads it: serving nil is serving.
  return conditions?.serving !== false ? 'terminating' : 'not-ready';
}

const RANK: Readonly<Record<EndpointState, number>> = { ready: 2, terminating: 1, 'not-ready': 0 };

/** Every endpoint address of the entry's Service, whatever its state (status counts them all). */
export function discoverEndpoints(entry: DiscoveryTarget, slices: readonly EndpointSlice[]): DiscoveredEndpoint[] {
  const found = new Map<string, DiscoveredEndpoint>();
  for (const slice of slices) {
    if (slice.metadata.labels?.[SERVICE_NAME_LABEL] !== entry.service) continue;
    if (slice.addressType === 'FQDN') continue;
    const port = portOf(slice, entry);
    if (port === undefined) continue;
    for (const endpoint of slice.endpoints ?? []) {
      const state = endpointState(endpoint.conditions);
      for (const address of endpoint.addresses) {
        const target = endpoint.targetRef?.name ?? address;
        const name = `${entry.service}/${endpoint.addresses.length > 1 ? `${target}-${address}` : target}`;
        const apiBase = `${entry.scheme}://${hostOf(address)}:${port}`;
        const previous = found.get(apiBase);
        // The same address in two slices (during a slice handover): the more available state wins.
        if (previous === undefined || RANK[state] > RANK[previous.state])
          found.set(apiBase, { name, apiBase, ready: state === 'ready', state });
      }
    }
  }
  return [...found.values()].sort((a, b) =>
    a.name < b.name ? -1 : a.name > b.name ? 1 : a.apiBase < b.apiBase ? -1 : 1,
  );
}

/**
 * A digest of the EndpointSlices of `services`: their names and resourceVersions, sorted. A
 * sidecar reports the digest of what it has seen; the operator computes the same over its cache,
 * so equal digests mean the sidecar has the endpoints the API server has (12 hex characters shown).
 */
export function slicesDigest(services: readonly string[], slices: readonly EndpointSlice[]): string {
  const wanted = new Set(services);
  const lines = slices
    .filter((s) => wanted.has(s.metadata.labels?.[SERVICE_NAME_LABEL] ?? ''))
    .map((s) => `${s.metadata.name}@${s.metadata.resourceVersion ?? ''}`)
    .sort();
  return createHash('sha256').update(lines.join('\n')).digest('hex').slice(0, 16);
}
