/**
 * Limits a backend tells about itself (TEI's /info): `max_client_batch_size` (documents per call)
 * and `max_concurrent_requests` (calls at once, past which it answers 429). They apply where the
 * config is silent; a configured limit always wins. Calls at once are split over the sidecars as
 * configured limits are (ceil(limit / sidecar_count)), so the fleet together stays within it.
 */
import type { BackendSpec } from '../config/model.ts';

export interface ReportedLimits {
  readonly maxDocumentsPerCall: number | undefined;
  readonly maxConcurrentRequests: number | undefined;
  /** Wall ms of the reading. */
  readonly at: number;
}

/** The spec a backend routes with: the config's, with the backend's own limits where it set none. */
export function withReportedLimits(spec: BackendSpec, reported: ReportedLimits | undefined): BackendSpec {
  if (reported === undefined) return spec;
  const documents = spec.limitsConfigured.maxDocuments
    ? spec.maxDocumentsPerCall
    : (reported.maxDocumentsPerCall ?? spec.maxDocumentsPerCall);
  const parallel =
    spec.limitsConfigured.maxParallel || reported.maxConcurrentRequests === undefined
      ? spec.maxParallelRequests
      : Math.max(1, Math.ceil(reported.maxConcurrentRequests / spec.sidecarCount));
  if (documents === spec.maxDocumentsPerCall && parallel === spec.maxParallelRequests) return spec;
  return { ...spec, maxDocumentsPerCall: documents, maxParallelRequests: parallel };
}

const MAX_LIMIT = 100_000_000;

function positiveInteger(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= MAX_LIMIT ? value : undefined;
}

/** TEI's /info body -> its limits; anything missing or out of bounds is left undefined (untrusted). */
export function parseInfo(body: unknown, wallNow: number): ReportedLimits | undefined {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return undefined;
  const info = body as Record<string, unknown>;
  const maxDocumentsPerCall = positiveInteger(info.max_client_batch_size);
  const maxConcurrentRequests = positiveInteger(info.max_concurrent_requests);
  if (maxDocumentsPerCall === undefined && maxConcurrentRequests === undefined) return undefined;
  return { maxDocumentsPerCall, maxConcurrentRequests, at: wallNow };
}
