/**
 * Pure: a config's discovery templates + the EndpointSlices seen -> the config with the discovered
 * backends, by the same discovery function the operator uses (common/discovery/). Ready endpoints
 * take calls at once (the kubelet's readiness probe already checked them); terminating ones that
 * still serve, then not-ready ones, only when nothing better can take a call (generation.ts).
 * Endpoints gone from the slices are left out: in-flight calls on them finish on the generation
 * they started on, as with any removed backend. Settings, hash and key digest stay the
 * config's own, so an endpoint change is never reported as a config change.
 */
import { discoverEndpoints, slicesDigest, type EndpointSlice } from '../../common/discovery/endpoint-slices.ts';
import type { BackendSpec, LbConfig } from '../config/model.ts';

export interface EndpointCounts {
  readonly ready: number;
  readonly terminating: number;
  readonly notReady: number;
}

export function mergeEndpoints(
  config: LbConfig,
  slices: readonly EndpointSlice[],
): { config: LbConfig; counts: EndpointCounts } {
  if (config.discovery.length === 0) return { config, counts: { ready: 0, terminating: 0, notReady: 0 } };
  const discovered: BackendSpec[] = [];
  const taken = new Set(config.backends.map((b) => b.id));
  let notReady = 0;
  let terminating = 0;
  for (const template of config.discovery) {
    for (const endpoint of discoverEndpoints(template.target, slices)) {
      const id = `${endpoint.apiBase}|${endpoint.name}`;
      if (taken.has(id)) continue;
      taken.add(id);
      if (endpoint.state === 'terminating') terminating++;
      if (endpoint.state === 'not-ready') notReady++;
      discovered.push({
        ...template.spec,
        id,
        name: endpoint.name,
        apiBase: endpoint.apiBase,
        endpoint: endpoint.state,
      });
    }
  }
  return {
    config: { ...config, backends: [...config.backends, ...discovered] },
    counts: { ready: discovered.length - terminating - notReady, terminating, notReady },
  };
}

/** The Services a config discovers, sorted (what the slice watch selects). */
export function discoveredServices(config: LbConfig): string[] {
  return [...new Set(config.discovery.map((d) => d.target.service))].sort();
}

export { slicesDigest };
