/**
 * The sidecar's side of discovery: follows the Services of the config's discovery templates (a
 * SliceWatch through the API) and merges their endpoints into every config it applies. Without
 * API access (file mode, a hand-wired sidecar) there is nothing to follow: templates are ignored
 * with one warning per config, and everything else works as before.
 */
import type { EndpointSlice } from '../../common/discovery/endpoint-slices.ts';
import type { Logger } from '../../common/logger.ts';
import type { LbConfig } from '../config/model.ts';
import { discoveredServices, mergeEndpoints, type EndpointCounts } from './merge-endpoints.ts';
import type { SliceWatchReport } from './slice-watch.ts';

/** Where the slices come from (SliceWatch; a fake in tests). */
export interface EndpointSource {
  follow(services: readonly string[]): void;
  slices(): readonly EndpointSlice[];
  report(): SliceWatchReport;
  stop(): void;
}

export interface FollowedEndpoints {
  /** The last config applied, before merging: what an endpoint change is merged into. */
  readonly base: LbConfig;
  /** Takes a new config: follows its Services. */
  follow(config: LbConfig): void;
  /** `config` with the endpoints seen so far. */
  merged(config: LbConfig): LbConfig;
  /** Discovering, and the first slices have not been merged yet (the sidecar is not ready). */
  readonly pending: boolean;
  /** For /lb/config: what endpoint state this sidecar serves. */
  report(): Record<string, unknown>;
  stop(): void;
}

/** What a source tells the sidecar: merged slices changed, or the watch failed (and retries). */
export interface EndpointEvents {
  readonly changed: () => void;
  readonly failed: (reason: string) => void;
}

export type EndpointSourceFactory = (events: EndpointEvents) => EndpointSource;

export function followEndpoints(
  initial: LbConfig,
  factory: EndpointSourceFactory | undefined,
  logger: Logger,
  onChange: () => void,
): FollowedEndpoints {
  let base = initial;
  let counts: EndpointCounts = { ready: 0, terminating: 0, notReady: 0 };
  let warnedFor: string | undefined;
  let merges = 0;
  let pending = false;
  let failing: string | undefined;
  const source = factory?.({
    changed() {
      if (failing !== undefined) logger.info({ services: discoveredServices(base) }, 'endpoint watch recovered');
      failing = undefined;
      pending = false;
      merges++;
      onChange();
    },
    failed(reason) {
      // Safe mode: the endpoints merged so far (none at start) keep serving, with the model_list
      // backends; readiness no longer waits for the watch, which retries with backoff.
      if (failing === undefined)
        logger.warn(
          { reason, services: discoveredServices(base) },
          'endpoint watch failing; serving the endpoints seen so far until it recovers (list/watch on endpointslices granted?)',
        );
      failing = reason;
      pending = false;
    },
  });

  function follow(config: LbConfig): void {
    base = config;
    const services = discoveredServices(config);
    if (source === undefined) {
      if (services.length > 0 && warnedFor !== config.hash) {
        warnedFor = config.hash;
        logger.warn(
          { services },
          'config: discovery needs the Kubernetes API (RERANKER_CONFIGMAP_NAME); its templates are ignored and only the model_list backends serve',
        );
      }
      return;
    }
    const before = source.report().services;
    source.follow(services);
    if (services.join(',') !== before.join(',')) pending = services.length > 0;
  }

  follow(initial);
  return {
    get base() {
      return base;
    },
    follow,
    merged(config) {
      if (source === undefined) return config;
      const result = mergeEndpoints(config, source.slices());
      counts = result.counts;
      return result.config;
    },
    get pending() {
      return pending;
    },
    report() {
      if (source === undefined) return { mode: base.discovery.length === 0 ? 'none' : 'ignored (no API access)' };
      const r = source.report();
      return {
        mode: r.services.length === 0 ? 'none' : 'watch',
        services: r.services,
        synced: r.synced && !pending && failing === undefined,
        failing: failing ?? null,
        slices: r.slices,
        digest: r.digest,
        merges,
        ready: counts.ready,
        terminating: counts.terminating,
        not_ready: counts.notReady,
        watch_restarts: r.restarts,
      };
    },
    stop() {
      source?.stop();
    },
  };
}
