/**
 * RA-TLS certificates (remote attestation bound to a TLS key, as Gramine's RA-TLS does): a
 * self-signed P-256 certificate whose X.509 extensions carry the enclave's quote and the digest
 * of the collateral it verifies against. The quote's REPORTDATA is
 * `sha256(SubjectPublicKeyInfo DER of the TLS public key) ‖ 32 zero bytes`, so a verifier that
 * checks the quote also learns which TLS key only that enclave holds.
 *
 * Both sides use this file: the SMS builds its certificate with it (src/sms/attested-tls.ts), the
 * clients read it back (src/sms-client/verifySms.ts).
 */
import { createHash, createPublicKey, type KeyObject, X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import { SealworkError } from '../errors.js';
import { collateralToJson, type Collateral } from './collateral.js';
import { children, decodeOid, readTlv, seq, tlv } from './der.js';
import { buildCertificate } from './x509build.js';

/** The quote extension: Intel's arc used by Gramine's RA-TLS for the raw SGX quote. */
export const RATLS_QUOTE_OID = '1.2.840.113741.1337.6';
/** sha256 of the collateral (collateralToJson, JSON text) the quote was issued with (a UUID OID, X.667). */
export const RATLS_COLLATERAL_DIGEST_OID = '2.25.225387415402764295849818732156564878526';

/** The SubjectPublicKeyInfo DER of a public (or private) key. */
export function spkiOf(key: KeyObject): Buffer {
  return (key.type === 'private' ? createPublicKey(key) : key).export({ type: 'spki', format: 'der' });
}

/** REPORTDATA binding a TLS key: sha256(SPKI DER) ‖ 32 zero bytes (64 bytes). */
export function ratlsReportData(spkiDer: Uint8Array): Buffer {
  return Buffer.concat([createHash('sha256').update(spkiDer).digest(), Buffer.alloc(32)]);
}

/** sha256 (hex) of the collateral as serialized by collateralToJson. */
export function collateralDigest(c: Collateral): string {
  return createHash('sha256')
    .update(JSON.stringify(collateralToJson(c)))
    .digest('hex');
}

/** subjectAltName DER value: IP addresses ([7]) and DNS names ([2]). */
function subjectAltName(hosts: string[]): Uint8Array {
  return seq(
    ...hosts.map((h) => {
      if (isIP(h) === 4) return tlv(0x87, Uint8Array.from(h.split('.').map(Number)));
      if (isIP(h) === 6) return tlv(0x87, ipv6Bytes(h));
      return tlv(0x82, Buffer.from(h, 'latin1'));
    }),
  );
}

function ipv6Bytes(h: string): Uint8Array {
  const [head, tail] = h.split('::') as [string, string | undefined];
  const words = (s: string | undefined) => (s ? s.split(':').map((w) => Number.parseInt(w, 16)) : []);
  const a = words(head);
  const b = words(tail);
  const all = tail === undefined ? a : [...a, ...new Array<number>(8 - a.length - b.length).fill(0), ...b];
  const out = Buffer.alloc(16);
  all.forEach((w, i) => out.writeUInt16BE(w, i * 2));
  return out;
}

export interface RatlsCertificateSpec {
  /** The TLS key pair: the certificate is self-signed with it. */
  privateKey: KeyObject;
  quote: Uint8Array;
  collateral: Collateral;
  hosts?: string[];
  commonName?: string;
  /** Validity (default: one minute ago to one year from now). */
  notBefore?: Date;
  notAfter?: Date;
}

/** A self-signed RA-TLS certificate (PEM) carrying the quote and the collateral's digest. */
export function buildRatlsCertificate(s: RatlsCertificateSpec): string {
  const publicKey = createPublicKey(s.privateKey);
  const now = Date.now();
  const name = { CN: s.commonName ?? 'sealwork SMS (RA-TLS, attested)', O: 'sealwork' };
  return buildCertificate({
    subject: name,
    issuer: name,
    publicKey,
    issuerKey: s.privateKey,
    issuerPublicKey: publicKey,
    notBefore: s.notBefore ?? new Date(now - 60_000),
    notAfter: s.notAfter ?? new Date(now + 365 * 24 * 3600_000),
    ca: false,
    extensions: [
      ['2.5.29.17', subjectAltName(s.hosts ?? ['127.0.0.1', '::1', 'localhost'])],
      [RATLS_QUOTE_OID, s.quote],
      [RATLS_COLLATERAL_DIGEST_OID, Buffer.from(collateralDigest(s.collateral), 'hex')],
    ],
  });
}

export interface RatlsCertificateContent {
  /** SubjectPublicKeyInfo DER of the certificate's key. */
  spki: Buffer;
  /** The quote extension's bytes, when present. */
  quote?: Buffer;
  /** The collateral digest extension (hex), when present. */
  collateralDigest?: string;
  fingerprint256: string;
}

/** The extensions of a DER certificate, by OID (their extnValue content). */
function extensionsOf(der: Uint8Array): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  const cert = readTlv(der);
  const tbs = children(cert.content)[0];
  if (!tbs) return out;
  const explicit3 = children(tbs.content).find((t) => t.tag === 0xa3);
  if (!explicit3) return out;
  for (const e of children(readTlv(explicit3.content).content)) {
    const parts = children(e.content);
    const id = parts[0];
    const value = parts[parts.length - 1];
    if (id?.tag === 0x06 && value?.tag === 0x04) out.set(decodeOid(id.content), Buffer.from(value.content));
  }
  return out;
}

/** Read an RA-TLS certificate (PEM): its key, quote and collateral digest. */
export function readRatlsCertificate(pem: string): RatlsCertificateContent {
  let x: X509Certificate;
  try {
    x = new X509Certificate(pem);
  } catch (e) {
    throw new SealworkError('CERT_MALFORMED', 'The RA-TLS certificate is not a PEM X.509 certificate.', {
      cause: e,
    });
  }
  const ext = extensionsOf(x.raw);
  const digest = ext.get(RATLS_COLLATERAL_DIGEST_OID);
  const quote = ext.get(RATLS_QUOTE_OID);
  return {
    spki: spkiOf(x.publicKey),
    ...(quote ? { quote } : {}),
    ...(digest ? { collateralDigest: digest.toString('hex') } : {}),
    fingerprint256: x.fingerprint256,
  };
}
