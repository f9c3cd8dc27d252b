/**
 * Pure: what the operator observed -> the pool's status. lastTransitionTime changes only when a
 * condition's status changes (the Kubernetes condition rules); the writer patches only when the
 * result differs from what is stored.
 */
import type { Condition, PoolStatus } from '../crd/pool-schema.ts';
import type { RenderedConfig } from '../render/render-config.ts';

/** Why a pool has no rendered config: the spec is invalid, or the result does not fit a ConfigMap. */
export interface RenderFailure {
  readonly reason: 'InvalidSpec' | 'ConfigTooLarge';
  readonly message: string;
}

export interface Observed {
  readonly generation: number;
  readonly configMapName: string;
  /** undefined when `renderFailure` says why. */
  readonly rendered: RenderedConfig | undefined;
  readonly renderFailure: RenderFailure | undefined;
  /** The config the sidecars should serve: the one just rendered, else the last good one in place. */
  readonly appliedHash: string | undefined;
  /** Services named in spec.discovery that do not exist. */
  readonly missingServices: readonly string[];
  /** undefined: the pool selects no sidecar pods. */
  readonly sidecars:
    | {
        readonly total: number;
        readonly synced: number;
        readonly differing: readonly string[];
        readonly inconsistent: readonly string[];
        readonly endpoints?: { readonly synced: number; readonly differing: readonly string[] };
      }
    | undefined;
  /** The EndpointSlices' digest sidecars should have merged (discoveryMode sidecar); undefined: they get endpoints in the config. */
  readonly endpointsDigest?: string | undefined;
  /** Sidecar injection: injectionStatus(...) of the pool's pods; undefined: none injected. */
  readonly injection?: PoolStatus['injection'];
  /** The sidecar_count rendered (sidecar-count.ts); undefined: no sidecar pod seen yet. */
  readonly sidecarCount?: PoolStatus['sidecarCount'];
}

/** How many differing pods a message names (the rest are counted). */
const NAMED_PODS = 5;

type Draft = Omit<Condition, 'lastTransitionTime' | 'observedGeneration'>;

function configRendered(o: Observed): Draft {
  if (o.rendered === undefined)
    return {
      type: 'ConfigRendered',
      status: 'False',
      reason: o.renderFailure?.reason ?? 'InvalidSpec',
      message: o.renderFailure?.message ?? 'the spec could not be rendered',
    };
  return {
    type: 'ConfigRendered',
    status: 'True',
    reason: 'Rendered',
    message: `rendered into ConfigMap ${o.configMapName} (config ${o.rendered.hash.slice(0, 12)})`,
  };
}

function backendsAvailable(o: Observed): Draft {
  if (o.missingServices.length > 0) {
    const names = o.missingServices.map((s) => `"${s}"`).join(', ');
    return {
      type: 'BackendsAvailable',
      status: 'False',
      reason: 'ServiceNotFound',
      message: `discovery: Service ${names} not found in the pool's namespace`,
    };
  }
  if (o.rendered === undefined)
    return {
      type: 'BackendsAvailable',
      status: 'Unknown',
      reason: 'NotRendered',
      message: 'the config was not rendered',
    };
  const r = o.rendered;
  if (r.readyCount === 0) {
    return {
      type: 'BackendsAvailable',
      status: 'False',
      reason: 'NoReadyBackends',
      message: `no ready backend: ${r.staticCount} static, ${r.discoveredCount} discovered endpoint(s), none ready`,
    };
  }
  return {
    type: 'BackendsAvailable',
    status: 'True',
    reason: 'BackendsReady',
    message: `${r.readyCount} ready backend(s): ${r.staticCount} static, ${r.readyCount - r.staticCount} discovered`,
  };
}

/** What the sidecars' model-consistency canaries say about the pool's backends (routing.canary). */
function modelConsistent(o: Observed): Draft {
  if (o.sidecars === undefined || o.sidecars.total === 0)
    return { type: 'ModelConsistent', status: 'Unknown', reason: 'NoSidecars', message: 'no sidecar to ask' };
  const bad = o.sidecars.inconsistent;
  if (bad.length > 0) {
    const named = bad.slice(0, NAMED_PODS).join(', ');
    const more = bad.length > NAMED_PODS ? ` and ${bad.length - NAMED_PODS} more` : '';
    return {
      type: 'ModelConsistent',
      status: 'False',
      reason: 'InconsistentBackends',
      message: `the canary ranks differently on ${named}${more} than on the pool's majority: a different model or revision?`,
    };
  }
  return {
    type: 'ModelConsistent',
    status: 'True',
    reason: 'NoneReported',
    message: 'no sidecar reports an inconsistent backend (the canary runs where routing.canary.interval is set)',
  };
}

function sidecarsSynced(o: Observed): Draft {
  if (o.sidecars === undefined)
    return {
      type: 'SidecarsSynced',
      status: 'Unknown',
      reason: 'NoSelector',
      message: 'spec.sidecarSelector is not set',
    };
  if (o.sidecars.total === 0)
    return {
      type: 'SidecarsSynced',
      status: 'Unknown',
      reason: 'NoSidecars',
      message: 'no running pod matches spec.sidecarSelector',
    };
  const hash = o.appliedHash?.slice(0, 12);
  if (hash !== undefined && o.sidecars.synced === o.sidecars.total) {
    return {
      type: 'SidecarsSynced',
      status: 'True',
      reason: 'AllSynced',
      message: `${o.sidecars.total}/${o.sidecars.total} sidecars serve config ${hash}`,
    };
  }
  const named = o.sidecars.differing.slice(0, NAMED_PODS).join(', ');
  const more = o.sidecars.differing.length > NAMED_PODS ? ` and ${o.sidecars.differing.length - NAMED_PODS} more` : '';
  const what =
    hash === undefined
      ? 'no config is in place yet'
      : `${o.sidecars.synced}/${o.sidecars.total} sidecars serve config ${hash}`;
  return {
    type: 'SidecarsSynced',
    status: 'False',
    reason: 'Syncing',
    message: `${what}${named === '' ? '' : `; ${named}${more}`}`,
  };
}

/**
 * Settings and endpoints are told apart: SidecarsSynced says which config (settings, static
 * backends, templates) the sidecars serve; this says whether they merged the EndpointSlices the
 * operator sees. It informs (endpoints move all the time); it does not make the pool unready.
 */
function endpointsSynced(o: Observed): Draft | undefined {
  // Without spec.sidecarSelector there is no sidecar to ask: SidecarsSynced says so already.
  if (o.endpointsDigest === undefined || o.sidecars === undefined) return undefined;
  const digest = o.endpointsDigest.slice(0, 12);
  const e = o.sidecars?.endpoints;
  if (o.sidecars.total === 0 || e === undefined)
    return {
      type: 'EndpointsSynced',
      status: 'Unknown',
      reason: 'NoSidecars',
      message: `no sidecar to ask (endpoints ${digest})`,
    };
  if (e.synced === o.sidecars.total)
    return {
      type: 'EndpointsSynced',
      status: 'True',
      reason: 'AllSynced',
      message: `${e.synced}/${o.sidecars.total} sidecars merged endpoints ${digest}`,
    };
  const named = e.differing.slice(0, NAMED_PODS).join(', ');
  const more = e.differing.length > NAMED_PODS ? ` and ${e.differing.length - NAMED_PODS} more` : '';
  return {
    type: 'EndpointsSynced',
    status: 'False',
    reason: 'Syncing',
    message: `${e.synced}/${o.sidecars.total} sidecars merged endpoints ${digest}; ${named}${more}`,
  };
}

function ready(parts: readonly Draft[]): Draft {
  const failing = parts.find((c) => c.status === 'False' || (c.type !== 'SidecarsSynced' && c.status !== 'True'));
  if (failing === undefined)
    return { type: 'Ready', status: 'True', reason: 'Ready', message: 'the pool is rendered and has ready backends' };
  return { type: 'Ready', status: 'False', reason: failing.reason, message: `${failing.type}: ${failing.message}` };
}

/** Keeps lastTransitionTime unless the status changed. */
function mergeCondition(
  previous: readonly Condition[] | undefined,
  draft: Draft,
  generation: number,
  now: string,
): Condition {
  const old = previous?.find((c) => c.type === draft.type);
  const lastTransitionTime = old !== undefined && old.status === draft.status ? old.lastTransitionTime : now;
  return { ...draft, observedGeneration: generation, lastTransitionTime };
}

export function computeStatus(previous: PoolStatus | undefined, o: Observed, now: string): PoolStatus {
  const parts = [configRendered(o), backendsAvailable(o), sidecarsSynced(o)];
  // Model consistency informs; it does not make the pool unready (the canary acts in the sidecars).
  const endpoints = endpointsSynced(o);
  const drafts = [ready(parts), ...parts, modelConsistent(o), ...(endpoints === undefined ? [] : [endpoints])];
  const status: PoolStatus = {
    observedGeneration: o.generation,
    conditions: drafts.map((d) => mergeCondition(previous?.conditions, d, o.generation, now)),
    configMapName: o.configMapName,
  };
  if (o.appliedHash !== undefined) status.configHash = o.appliedHash;
  // Counts describe the config in place: without a new render, the last ones stay.
  if (o.rendered !== undefined)
    status.backends = {
      static: o.rendered.staticCount,
      discovered: o.rendered.discoveredCount,
      ready: o.rendered.readyCount,
    };
  else if (previous?.backends !== undefined) status.backends = previous.backends;
  if (o.sidecars !== undefined) {
    status.sidecars = {
      synced: o.sidecars.synced,
      total: o.sidecars.total,
      summary: `${o.sidecars.synced}/${o.sidecars.total}`,
    };
    if (o.sidecars.endpoints !== undefined) status.sidecars.endpointsSynced = o.sidecars.endpoints.synced;
  }
  if (o.endpointsDigest !== undefined) status.endpointsDigest = o.endpointsDigest;
  if (o.sidecars !== undefined && o.sidecars.inconsistent.length > 0)
    status.inconsistentBackends = [...o.sidecars.inconsistent];
  if (o.injection !== undefined) status.injection = o.injection;
  if (o.sidecarCount !== undefined) status.sidecarCount = o.sidecarCount;
  return status;
}

/** Warning reasons for conditions that went False (ConfigRendered has its own event). */
const WARNING_REASON: Readonly<Record<string, (c: Condition) => string>> = {
  BackendsAvailable: (c) => c.reason, // ServiceNotFound, NoReadyBackends
  SidecarsSynced: () => 'SidecarsNotSynced',
  ModelConsistent: () => 'InconsistentBackends',
};

/**
 * Pure: the Warning events a status change deserves — one per condition that turned False (or
 * changed its reason while False). `justRendered`: sidecars lag a fresh render for a moment by
 * design, so SidecarsSynced=False then is not worth a warning; a later check still finds them.
 */
export function warningsFor(
  previous: PoolStatus | undefined,
  next: PoolStatus,
  justRendered: boolean,
): { reason: string; message: string }[] {
  const out: { reason: string; message: string }[] = [];
  for (const c of next.conditions ?? []) {
    const reasonOf = WARNING_REASON[c.type];
    if (reasonOf === undefined || c.status !== 'False') continue;
    if (c.type === 'SidecarsSynced' && justRendered) continue;
    const before = previous?.conditions?.find((p) => p.type === c.type);
    if (before?.status === 'False' && before.reason === c.reason) continue;
    out.push({ reason: reasonOf(c), message: c.message });
  }
  return out;
}

/** Status comparison that ignores key order. */
export function sameStatus(a: PoolStatus | undefined, b: PoolStatus): boolean {
  const canonical = (value: unknown): unknown =>
    Array.isArray(value)
      ? value.map(canonical)
      : value !== null && typeof value === 'object'
        ? Object.fromEntries(
            Object.keys(value)
              .sort()
              .map((k) => [k, canonical((value as Record<string, unknown>)[k])]),
          )
        : value;
  return JSON.stringify(canonical(a ?? {})) === JSON.stringify(canonical(b));
}
