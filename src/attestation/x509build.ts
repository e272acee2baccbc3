/**
 * Building X.509 certificates and CRLs for the simulated platform: DER assembled with der.ts,
 * every signature made by node:crypto (ECDSA P-256 / SHA-256). Output is checked by parsing it
 * back with node:crypto X509Certificate.
 */
import { X509Certificate, createHash, randomBytes, sign, type KeyObject } from 'node:crypto';
import { children, oid, readTlv, seq, tlv } from './der.js';

const ECDSA_SHA256 = seq(oid('1.2.840.10045.4.3.2'));

export interface NameAttrs {
  CN: string;
  O?: string;
  L?: string;
  ST?: string;
  C?: string;
}

export function encodeName(n: NameAttrs): Uint8Array {
  const rdn = (o: string, v: string, tag = 0x0c) => tlv(0x31, seq(oid(o), tlv(tag, Buffer.from(v, 'utf8'))));
  const parts = [rdn('2.5.4.3', n.CN)];
  if (n.O) parts.push(rdn('2.5.4.10', n.O));
  if (n.L) parts.push(rdn('2.5.4.7', n.L));
  if (n.ST) parts.push(rdn('2.5.4.8', n.ST));
  if (n.C) parts.push(rdn('2.5.4.6', n.C, 0x13));
  return seq(...parts);
}

function encodeTime(d: Date): Uint8Array {
  const iso = d.toISOString().replace(/[-:T]/g, '').slice(0, 14); // YYYYMMDDHHMMSS
  return d.getUTCFullYear() < 2050
    ? tlv(0x17, Buffer.from(`${iso.slice(2)}Z`, 'latin1'))
    : tlv(0x18, Buffer.from(`${iso}Z`, 'latin1'));
}

function encodeUint(b: Uint8Array): Uint8Array {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  const v = b.subarray(i);
  return tlv(0x02, v[0]! & 0x80 ? Buffer.concat([Uint8Array.of(0), v]) : v);
}

function bitString(b: Uint8Array, unused = 0): Uint8Array {
  return tlv(0x03, Buffer.concat([Uint8Array.of(unused), b]));
}

function ext(id: string, critical: boolean, value: Uint8Array): Uint8Array {
  return critical
    ? seq(oid(id), tlv(0x01, Uint8Array.of(0xff)), tlv(0x04, value))
    : seq(oid(id), tlv(0x04, value));
}

function keyId(pub: KeyObject): Uint8Array {
  const spki = pub.export({ type: 'spki', format: 'der' });
  const bits = children(readTlv(spki).content)[1]!.content.subarray(1);
  return createHash('sha1').update(bits).digest();
}

export interface CertSpec {
  subject: NameAttrs;
  issuer: NameAttrs;
  publicKey: KeyObject;
  issuerKey: KeyObject;
  issuerPublicKey: KeyObject;
  notBefore: Date;
  notAfter: Date;
  ca: boolean;
  /** Extra (non-critical) extensions: [oid, DER value]. */
  extensions?: [string, Uint8Array][];
}

export function toPem(der: Uint8Array, label: string): string {
  const b64 = Buffer.from(der)
    .toString('base64')
    .replace(/(.{64})/g, '$1\n');
  return `-----BEGIN ${label}-----\n${b64.trimEnd()}\n-----END ${label}-----\n`;
}

export function buildCertificate(spec: CertSpec): string {
  const serial = randomBytes(16);
  serial[0] = serial[0]! & 0x7f;
  const exts = [
    ext('2.5.29.35', false, seq(tlv(0x80, keyId(spec.issuerPublicKey)))),
    ext('2.5.29.14', false, tlv(0x04, keyId(spec.publicKey))),
    ext('2.5.29.15', true, spec.ca ? bitString(Uint8Array.of(0x06), 1) : bitString(Uint8Array.of(0xc0), 6)),
    ext('2.5.29.19', true, spec.ca ? seq(tlv(0x01, Uint8Array.of(0xff))) : seq()),
    ...(spec.extensions ?? []).map(([id, v]) => ext(id, false, v)),
  ];
  const tbs = seq(
    tlv(0xa0, encodeUint(Uint8Array.of(2))),
    encodeUint(serial),
    ECDSA_SHA256,
    encodeName(spec.issuer),
    seq(encodeTime(spec.notBefore), encodeTime(spec.notAfter)),
    encodeName(spec.subject),
    spec.publicKey.export({ type: 'spki', format: 'der' }),
    tlv(0xa3, seq(...exts)),
  );
  const sig = sign('sha256', tbs, spec.issuerKey);
  const pem = toPem(seq(tbs, ECDSA_SHA256, bitString(sig)), 'CERTIFICATE');
  new X509Certificate(pem); // parse check
  return pem;
}

export function buildCrl(spec: {
  issuer: NameAttrs;
  issuerKey: KeyObject;
  thisUpdate: Date;
  nextUpdate: Date;
  revokedSerials?: Uint8Array[];
}): Uint8Array {
  const revoked = (spec.revokedSerials ?? []).map((s) => seq(encodeUint(s), encodeTime(spec.thisUpdate)));
  const tbs = seq(
    encodeUint(Uint8Array.of(1)),
    ECDSA_SHA256,
    encodeName(spec.issuer),
    encodeTime(spec.thisUpdate),
    encodeTime(spec.nextUpdate),
    ...(revoked.length ? [seq(...revoked)] : []),
  );
  const sig = sign('sha256', tbs, spec.issuerKey);
  return seq(tbs, ECDSA_SHA256, bitString(sig));
}
