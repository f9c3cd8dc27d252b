/**
 * Issues the webhook's CA and serving certificate. Keys come from node:crypto (RSA 2048, native
 * and fast); node-forge only assembles and signs the X.509 structures, which node:crypto cannot.
 * Reading certificates back (expiry, SANs, chain) uses node:crypto's X509Certificate.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import forge from 'node-forge';

export interface CertificateSet {
  readonly caCert: string;
  readonly caKey: string;
  readonly cert: string;
  readonly key: string;
}

export interface Validity {
  /** Milliseconds since the epoch. */
  readonly now: number;
  readonly days: number;
}

/** Certificates start five minutes in the past, so a slightly slow clock elsewhere accepts them. */
const BACKDATE_MS = 5 * 60_000;

function rsaKeyPem(): string {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
}

function serial(): string {
  const bytes = randomBytes(16);
  bytes[0]! &= 0x7f; // a positive serial number
  return bytes.toString('hex');
}

function base(keyPem: string, validity: Validity): { cert: forge.pki.Certificate; key: forge.pki.rsa.PrivateKey } {
  const key = forge.pki.privateKeyFromPem(keyPem) as forge.pki.rsa.PrivateKey;
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.setRsaPublicKey(key.n, key.e);
  cert.serialNumber = serial();
  cert.validity.notBefore = new Date(validity.now - BACKDATE_MS);
  cert.validity.notAfter = new Date(validity.now + validity.days * 86_400_000);
  return { cert, key };
}

/** A self-signed CA that can sign only end-entity certificates (path length 0). */
export function issueCa(commonName: string, validity: Validity): { caCert: string; caKey: string } {
  const caKey = rsaKeyPem();
  const { cert, key } = base(caKey, validity);
  const subject = [{ name: 'commonName', value: commonName }];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(key, forge.md.sha256.create());
  return { caCert: forge.pki.certificateToPem(cert), caKey };
}

/** A serving certificate for `names` (DNS names or IP addresses), signed by the CA. */
export function issueServing(
  ca: { caCert: string; caKey: string },
  names: readonly string[],
  validity: Validity,
): CertificateSet {
  const keyPem = rsaKeyPem();
  const { cert } = base(keyPem, validity);
  const caCert = forge.pki.certificateFromPem(ca.caCert);
  const caKey = forge.pki.privateKeyFromPem(ca.caKey);
  cert.setSubject([{ name: 'commonName', value: names[0] ?? 'reranker-lb-webhook' }]);
  cert.setIssuer(caCert.subject.attributes);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    { name: 'subjectAltName', altNames: names.map((n) => (isIP(n) ? { type: 7, ip: n } : { type: 2, value: n })) },
    { name: 'authorityKeyIdentifier', keyIdentifier: caCert.generateSubjectKeyIdentifier().getBytes() },
  ]);
  cert.sign(caKey, forge.md.sha256.create());
  return { caCert: ca.caCert, caKey: ca.caKey, cert: forge.pki.certificateToPem(cert), key: keyPem };
}
