/**
 * Pure: what is stored (the Secret's data) + what is wanted + now -> keep, issue a new serving
 * certificate, or start over with a new CA. Renewal happens when a third of a certificate's
 * lifetime is left (cert-manager's default), so a weekly outage of the operator never lets one
 * expire.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { isIP } from 'node:net';

/** The Secret's keys: the layout cert-manager writes, plus the CA key the operator keeps. */
const SECRET_KEYS = { cert: 'tls.crt', key: 'tls.key', caCert: 'ca.crt', caKey: 'ca.key' } as const;

export interface StoredCertificates {
  readonly caCert: string;
  readonly caKey: string | undefined;
  readonly cert: string;
  readonly key: string;
}

export type CertPlan =
  | { readonly action: 'keep'; readonly renewAt: number }
  | { readonly action: 'issue-serving'; readonly reason: string }
  | { readonly action: 'issue-ca'; readonly reason: string };

/** Decodes a Secret's base64 `data` into PEM text; undefined without a serving certificate and key. */
export function decodeSecretData(data: Record<string, string> | undefined): StoredCertificates | undefined {
  const get = (k: string) => (data?.[k] === undefined ? undefined : Buffer.from(data[k]!, 'base64').toString('utf8'));
  const caCert = get(SECRET_KEYS.caCert);
  const cert = get(SECRET_KEYS.cert);
  const key = get(SECRET_KEYS.key);
  if (cert === undefined || key === undefined || cert === '' || key === '') return undefined;
  // ca.crt may be absent from a cert-manager Secret (some issuers do not know it); the operator's own always has it.
  return { caCert: caCert ?? '', caKey: get(SECRET_KEYS.caKey) || undefined, cert, key };
}

export function encodeSecretData(c: {
  caCert: string;
  caKey: string;
  cert: string;
  key: string;
}): Record<string, string> {
  const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
  return {
    [SECRET_KEYS.caCert]: b64(c.caCert),
    [SECRET_KEYS.caKey]: b64(c.caKey),
    [SECRET_KEYS.cert]: b64(c.cert),
    [SECRET_KEYS.key]: b64(c.key),
  };
}

function renewAt(cert: X509Certificate): number {
  const from = Date.parse(cert.validFrom);
  const to = Date.parse(cert.validTo);
  return to - (to - from) / 3;
}

function covers(cert: X509Certificate, names: readonly string[]): string | undefined {
  for (const name of names) {
    const ok = isIP(name) ? cert.checkIP(name) !== undefined : cert.checkHost(name, { wildcards: false }) !== undefined;
    if (!ok) return name;
  }
  return undefined;
}

/** `rotateCa`: someone asked for a new CA (an annotation on the Secret). */
export function planCertificates(
  stored: StoredCertificates | undefined,
  names: readonly string[],
  now: number,
  rotateCa = false,
): CertPlan {
  if (stored === undefined) return { action: 'issue-ca', reason: 'no certificate stored' };
  if (rotateCa) return { action: 'issue-ca', reason: 'a new CA was requested' };
  let ca: X509Certificate;
  let serving: X509Certificate;
  try {
    ca = new X509Certificate(stored.caCert);
    serving = new X509Certificate(stored.cert);
  } catch {
    return { action: 'issue-ca', reason: 'the stored certificates do not parse' };
  }
  if (stored.caKey === undefined) return { action: 'issue-ca', reason: 'the CA key is missing' };
  try {
    if (!ca.checkPrivateKey(createPrivateKey(stored.caKey)))
      return { action: 'issue-ca', reason: 'the CA key does not match the CA' };
  } catch {
    return { action: 'issue-ca', reason: 'the CA key does not parse' };
  }
  if (!ca.ca) return { action: 'issue-ca', reason: 'the stored CA is not a CA' };
  if (now >= renewAt(ca)) return { action: 'issue-ca', reason: `the CA expires ${ca.validTo}` };
  if (!serving.verify(ca.publicKey))
    return { action: 'issue-serving', reason: 'the serving certificate is not signed by the CA' };
  try {
    if (!serving.checkPrivateKey(createPrivateKey(stored.key)))
      return { action: 'issue-serving', reason: 'the serving key does not match its certificate' };
  } catch {
    return { action: 'issue-serving', reason: 'the serving key does not parse' };
  }
  const missing = covers(serving, names);
  if (missing !== undefined)
    return { action: 'issue-serving', reason: `the serving certificate does not name ${missing}` };
  if (now >= renewAt(serving))
    return { action: 'issue-serving', reason: `the serving certificate expires ${serving.validTo}` };
  return { action: 'keep', renewAt: Math.min(renewAt(serving), renewAt(ca)) };
}
