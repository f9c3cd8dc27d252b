/**
 * The EndpointSlices of the Services a sidecar's config discovers, in its own namespace, through
 * one list+watch (label kubernetes.io/service-name in (...)): what kube-proxy does, so an
 * endpoint change costs each sidecar the changed slice (<= 100 endpoints), not the pool's whole
 * ConfigMap. Events are coalesced: the first one schedules a merge `coalesceMs` later and the
 * ones that follow within that window join it, so a rollout that touches many slices at once
 * reloads once, never later than `coalesceMs` after the first change.
 * The slices come in protobuf, as kube-proxy asks for them: 15 KB per change per sidecar for a
 * slice of 100 endpoints where JSON is 28 KB (docs/scale.md); a server that answers JSON (a proxy
 * in front of the API server) is read as JSON.
 */
import type { Logger } from 'pino';
import type { KubeObject } from '../../kube/api.ts';
import { Informer, type ListWatchApi } from '../../kube/informer.ts';
import { decodeEndpointSlice } from '../../kube/protobuf/endpoint-slice.ts';
import { SERVICE_NAME_LABEL, slicesDigest, type EndpointSlice } from '../../common/discovery/endpoint-slices.ts';
import type { Clock, Random, Timers } from '../../common/clock.ts';

const DEFAULT_COALESCE_MS = 100;

export type Slice = EndpointSlice & KubeObject;

export interface SliceWatchOptions {
  readonly api: ListWatchApi;
  readonly namespace: string;
  readonly logger: Logger;
  readonly timers: Timers;
  readonly clock: Clock;
  readonly random: Random;
  /** Called (coalesced) when the slices seen changed; read them with `slices()`. */
  readonly onChange: () => void;
  /** The watch failed (it retries with backoff on its own): 403 without the RBAC rule, API server down. */
  readonly onFailure?: (reason: string) => void;
  readonly coalesceMs?: number;
}

/** What /lb/config reports of the endpoints this sidecar has seen. */
export interface SliceWatchReport {
  readonly services: readonly string[];
  readonly synced: boolean;
  readonly slices: number;
  /** slicesDigest of the slices merged: the operator compares it with its own. */
  readonly digest: string;
  readonly restarts: number;
}

/** Only what discovery reads stays in memory (no managedFields, hints or topology). */
export function slimSlice(slice: Slice): Slice {
  const { name, namespace, resourceVersion, labels } = slice.metadata;
  const service = labels?.[SERVICE_NAME_LABEL];
  return {
    metadata: {
      name,
      namespace,
      resourceVersion,
      labels: service === undefined ? {} : { [SERVICE_NAME_LABEL]: service },
    },
    addressType: slice.addressType,
    ports: slice.ports?.map((p) => ({ name: p.name, port: p.port })) ?? null,
    endpoints: slice.endpoints?.map((e) => ({
      addresses: e.addresses,
      conditions: e.conditions,
      targetRef: e.targetRef?.name === undefined ? undefined : { name: e.targetRef.name },
    })),
  };
}

export class SliceWatch {
  readonly #o: SliceWatchOptions;
  #informer: Informer<Slice> | undefined;
  #services: readonly string[] = [];
  /** The slices of the last merge: kept while a new watch (other services) has not listed yet. */
  #snapshot: readonly Slice[] = [];
  #scheduled: unknown;
  #stopped = false;

  constructor(options: SliceWatchOptions) {
    this.#o = options;
  }

  /** Watches these Services' slices (a new watch when the set changed; none when empty). */
  follow(services: readonly string[]): void {
    if (
      this.#stopped ||
      (services.length === this.#services.length && services.every((s, i) => s === this.#services[i]))
    )
      return;
    this.#informer?.stop();
    this.#services = [...services];
    if (services.length === 0) {
      this.#informer = undefined;
      this.#snapshot = [];
      this.#schedule();
      return;
    }
    const informer = new Informer<Slice>(this.#o.api, {
      name: 'endpointslices',
      path: `/apis/discovery.k8s.io/v1/namespaces/${this.#o.namespace}/endpointslices`,
      labelSelector: `${SERVICE_NAME_LABEL} in (${services.join(',')})`,
      transform: slimSlice,
      protobuf: decodeEndpointSlice,
      onEvent: () => this.#schedule(),
      onRestart: (reason) => this.#o.onFailure?.(reason),
      logger: this.#o.logger,
      timers: this.#o.timers,
      clock: this.#o.clock,
      random: this.#o.random,
    });
    this.#informer = informer;
    informer.start();
    // A list with no slices emits nothing: merge once it has arrived all the same.
    void informer.waitForSync().then(() => {
      if (this.#informer === informer) this.#schedule();
    });
  }

  #schedule(): void {
    if (this.#stopped || this.#scheduled !== undefined) return;
    this.#scheduled = this.#o.timers.setTimeout(() => {
      this.#scheduled = undefined;
      if (this.#stopped) return;
      const informer = this.#informer;
      if (informer !== undefined && !informer.synced) return; // its first list will schedule again
      this.#snapshot = informer?.list() ?? [];
      this.#o.onChange();
    }, this.#o.coalesceMs ?? DEFAULT_COALESCE_MS);
  }

  /** The slices of the Services followed, as of the last merge. */
  slices(): readonly EndpointSlice[] {
    return this.#snapshot;
  }

  report(): SliceWatchReport {
    return {
      services: this.#services,
      synced: this.#informer?.synced ?? true,
      slices: this.#snapshot.length,
      digest: slicesDigest(this.#services, this.#snapshot),
      restarts: this.#informer?.restarts ?? 0,
    };
  }

  stop(): void {
    this.#stopped = true;
    this.#informer?.stop();
    this.#o.timers.clearTimeout(this.#scheduled);
  }
}
