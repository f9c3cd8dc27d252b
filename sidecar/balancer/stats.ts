/** Snapshots for /lb/stats and /lb/backends. Pure reads of the machinery; no secrets. */
import type { Backend } from './backend.ts';
import { decayedLatency } from './strategies/latency-based.ts';
import { safeUrl } from '../../common/redact.ts';
import { limitsModeOf } from '../limits/shared-limits.ts';

export function backendStats(b: Backend, now: number, wallNow: number): Record<string, unknown> {
  const spec = b.spec;
  const estimate = decayedLatency(b, { now, latencyDecayMs: b.latencyDecayMs, random: Math.random, memory: new Map() });
  return {
    name: spec.name,
    api_base: safeUrl(spec.apiBase),
    api_format: spec.apiFormat,
    weight: spec.weight,
    priority: spec.priority,
    available: b.isEligible(now, 0),
    healthy: b.health === 'up',
    health: b.health,
    health_problem: b.healthProblem ?? null,
    key_problem: spec.keyProblem ?? null,
    endpoint: spec.endpoint ?? null,
    ejected_for_ms: Math.max(0, Math.round(b.outlier.ejectedUntil - now)),
    ejections: b.outlier.ejections,
    breaker_state: b.breakerState,
    parked_for_ms: Math.max(0, Math.round(b.parkedUntil - now)),
    in_flight: b.inFlight,
    requests: b.requests,
    successes: b.successes,
    failures: b.failures,
    client_errors: b.clientErrors,
    latency_ms: b.latencies.percentiles(),
    routing_estimate_ms_per_doc: Number.isNaN(estimate) ? null : Math.round(estimate * 1000) / 1000,
    rpm: { used: b.requestWindow.total(now), limit: spec.rpm ?? null },
    tpm: { used: Math.round(b.tokenWindow.total(now)), limit: spec.tpm ?? null },
    max_parallel_requests: spec.maxParallelRequests ?? null,
    load_signal: loadSignalStats(b, now),
    reported_limits: reportedLimitsStats(b),
    limits: b.shared === undefined ? { mode: limitsModeOf(b) } : { ...b.shared.toJSON(now), mode: limitsModeOf(b) },
    max_documents_per_call: spec.maxDocumentsPerCall ?? null,
    max_tokens_per_call: spec.maxTokensPerCall ?? null,
    consistency: b.consistency,
    canary:
      b.canary === undefined
        ? null
        : {
            correlation: b.canary.correlation,
            top_k_agreement: b.canary.topKAgreement,
            at: new Date(b.canary.at).toISOString(),
            problem: b.canary.problem ?? null,
            ejected: b.canaryEjected,
          },
    last_error:
      b.lastError === undefined
        ? null
        : {
            message: b.lastError.message,
            at: new Date(b.lastError.at).toISOString(),
            age_s: Math.round((wallNow - b.lastError.at) / 1000),
          },
  };
}

/** The backend's own load report: the queue it reports, from where, how old; null while stale. */
function loadSignalStats(b: Backend, now: number): Record<string, unknown> {
  const reading = b.load.reading(now);
  return {
    reported_queue: reading === undefined ? null : Math.round(reading.queue * 100) / 100,
    source: reading?.source ?? null,
    age_ms: reading === undefined ? null : Math.round(now - reading.at),
    stale_after_ms: 2 * b.load.intervalMs,
    scrape_failures: b.load.scrapeFailures,
  };
}

/** What the backend told of its limits (TEI /info), and whether the config's own limits win. */
function reportedLimitsStats(b: Backend): Record<string, unknown> | null {
  const reported = b.reportedLimits;
  if (reported === undefined) return null;
  const configured = b.spec.limitsConfigured;
  return {
    max_client_batch_size: reported.maxDocumentsPerCall ?? null,
    max_concurrent_requests: reported.maxConcurrentRequests ?? null,
    applied: {
      max_documents_per_call: !configured.maxDocuments && reported.maxDocumentsPerCall !== undefined,
      max_parallel_requests: !configured.maxParallel && reported.maxConcurrentRequests !== undefined,
    },
    at: new Date(reported.at).toISOString(),
  };
}
