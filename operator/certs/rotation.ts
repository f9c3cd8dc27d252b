/**
 * Pure: CA rotation with an overlap. The webhook's caBundle must trust every CA that some replica
 * serves a certificate from, because the API server calls whichever replica the Service (or a
 * load balancer in front of a URL) picks and `failurePolicy: Fail` turns a TLS error into a
 * refused pod. So a new CA is added to the bundle first, each replica serves a certificate from
 * it only once the bundle has held it for `settleMs` (the API servers' informers see the change),
 * and an old CA leaves the bundle only when every live replica reports serving the new one.
 *
 * Replicas report what they serve in annotations of the certificate Secret, refreshed every
 * check while a rotation is under way: a report older than `staleMs` is a replica that is gone.
 */
import { createHash, X509Certificate } from 'node:crypto';

/** Annotation prefix of "replica X serves a certificate from CA F since T" reports on the Secret. */
export const SERVED_PREFIX = 'served.webhook.reranker.dev/';
/** Set on the Secret (any value) to have the operator start over with a new CA, with the overlap. */
export const ROTATE_CA_ANNOTATION = 'webhook.reranker.dev/rotate-ca';

export interface RotationTiming {
  /** How long a CA must have been in the bundle before a replica serves a certificate from it. */
  readonly settleMs: number;
  /** How often replicas refresh their report during a rotation (the check period). */
  readonly heartbeatMs: number;
  /** A report older than this is a replica that no longer runs. */
  readonly staleMs: number;
}

/** The API servers' informers see a new caBundle within about a second; five is a wide margin. */
const DEFAULT_SETTLE_MS = 5_000;

export function rotationTiming(checkMs: number, settleMs = DEFAULT_SETTLE_MS): RotationTiming {
  return { settleMs, heartbeatMs: checkMs, staleMs: 3 * checkMs };
}

/** The first 16 bytes of the SHA-256 of a certificate's DER, hex; of the text when it is no certificate. */
export function fingerprint(pem: string): string {
  let bytes: Buffer;
  try {
    bytes = new X509Certificate(pem).raw;
  } catch {
    bytes = Buffer.from(pem.trim(), 'utf8');
  }
  return createHash('sha256').update(bytes).digest('hex').slice(0, 32);
}

/** The PEM certificates in a base64 caBundle, in order; an empty or garbled bundle yields none. */
export function parseBundle(caBundle: string | undefined): string[] {
  if (caBundle === undefined || caBundle === '') return [];
  const text = Buffer.from(caBundle, 'base64').toString('utf8');
  return [...text.matchAll(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g)].map((m) => `${m[0]}\n`);
}

export function encodeBundle(cas: readonly string[]): string {
  return Buffer.from(cas.map((c) => (c.endsWith('\n') ? c : `${c}\n`)).join(''), 'utf8').toString('base64');
}

export interface ServedReport {
  readonly replica: string;
  readonly ca: string;
  readonly at: number;
}

/** An annotation key's name part (63 characters, alphanumeric at both ends) for a replica identity. */
export function reportKey(identity: string): string {
  const name = identity
    .replace(/[^A-Za-z0-9._-]/g, '-')
    .slice(-63)
    .replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, '');
  return `${SERVED_PREFIX}${name || 'replica'}`;
}

export function reportValue(ca: string, at: number): string {
  return `${ca} ${new Date(at).toISOString()}`;
}

/**
 * Reports (`ca` is a fingerprint) in a Secret's annotations; malformed ones are ignored (they
 * name no CA anybody serves).
 */
export function parseReports(annotations: Record<string, string> | undefined): ServedReport[] {
  const reports: ServedReport[] = [];
  for (const [key, value] of Object.entries(annotations ?? {})) {
    if (!key.startsWith(SERVED_PREFIX)) continue;
    const [ca, time] = value.split(' ');
    const at = Date.parse(time ?? '');
    if (ca && Number.isFinite(at)) reports.push({ replica: key, ca, at });
  }
  return reports;
}

/**
 * Whether this replica switches to the stored certificate now: always when it serves nothing yet
 * or the certificate comes from the CA it already serves from (a renewal); a new CA only once the
 * bundle has held it for settleMs.
 */
export function shouldServe(o: {
  storedCa: string;
  servedCa: string | undefined;
  /** How long this replica has seen the stored CA in every webhook's caBundle (a monotonic duration). */
  trustedForMs: number | undefined;
  timing: RotationTiming;
}): boolean {
  if (o.servedCa === undefined || fingerprint(o.servedCa) === fingerprint(o.storedCa)) return true;
  return o.trustedForMs !== undefined && o.trustedForMs >= o.timing.settleMs;
}

export interface BundlePlan {
  /** The CA PEMs the bundle should hold, the Secret's first. */
  readonly bundle: readonly string[];
  /** True while an older CA is kept for a replica that may still serve from it. */
  readonly overlapping: boolean;
  /** Why an older CA is kept: replicas still reporting it, or the wait for reports. */
  readonly waitingFor: readonly string[];
}

/**
 * The bundle to write. The Secret's CA and the CA this replica serves from are always in it;
 * every other CA already in it stays until (1) the Secret's CA has been in the bundle for
 * settleMs + 2 heartbeats, so that each live replica has switched and reported, (2) this replica
 * serves from the Secret's CA and (3) no report younger than staleMs names another CA.
 */
export function planBundle(o: {
  storedCa: string;
  servedCa: string | undefined;
  bundle: readonly string[];
  reports: readonly ServedReport[];
  /** As in shouldServe. */
  trustedForMs: number | undefined;
  /** Wall-clock time, to age the reports (written by other replicas). */
  now: number;
  timing: RotationTiming;
}): BundlePlan {
  const want = fingerprint(o.storedCa);
  const served = o.servedCa === undefined ? undefined : fingerprint(o.servedCa);
  const byPrint = new Map<string, string>([[want, o.storedCa]]);
  if (served !== undefined && o.servedCa !== undefined) byPrint.set(served, o.servedCa);
  const others = o.bundle.filter((pem) => !byPrint.has(fingerprint(pem)));
  const waitingFor: string[] = [];
  if (served !== want) waitingFor.push('this replica to serve the new certificate');
  const overlapMs = o.timing.settleMs + 2 * o.timing.heartbeatMs;
  if (o.trustedForMs === undefined || o.trustedForMs < overlapMs) waitingFor.push('every replica to report');
  for (const r of o.reports)
    if (r.ca !== want && o.now - r.at < o.timing.staleMs) waitingFor.push(r.replica.slice(SERVED_PREFIX.length));
  const kept = waitingFor.length === 0 ? [] : others.filter((pem) => isCertificate(pem));
  for (const pem of kept) byPrint.set(fingerprint(pem), pem);
  const bundle = [...byPrint.values()];
  return { bundle, overlapping: bundle.length > 1, waitingFor: bundle.length > 1 ? waitingFor : [] };
}

function isCertificate(pem: string): boolean {
  try {
    new X509Certificate(pem);
    return true;
  } catch {
    return false;
  }
}

/** Whether this replica writes its report now: while CAs overlap, on a change or every heartbeat. */
export function reportDue(o: {
  mine: ServedReport | undefined;
  servedPrint: string;
  overlapping: boolean;
  now: number;
  timing: RotationTiming;
}): boolean {
  if (!o.overlapping) return false;
  return o.mine === undefined || o.mine.ca !== o.servedPrint || o.now - o.mine.at >= o.timing.heartbeatMs;
}

/** Annotation changes for a report: this replica's, and removal of reports gone stale. */
export function reportPatch(o: {
  key: string;
  servedPrint: string;
  reports: readonly ServedReport[];
  now: number;
  timing: RotationTiming;
}): Record<string, string | null> {
  const patch: Record<string, string | null> = {};
  for (const r of o.reports) if (r.replica !== o.key && o.now - r.at >= o.timing.staleMs) patch[r.replica] = null;
  patch[o.key] = reportValue(o.servedPrint, o.now);
  return patch;
}
