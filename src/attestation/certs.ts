/**
 * X.509 for DCAP: certificate chains to a trusted root (node:crypto X509Certificate/verify),
 * CRLs (structure walked with the bounds-checked DER reader, signature by node:crypto), and the
 * Intel SGX PCK certificate extension (OID 1.2.840.113741.1.13.1).
 *
 * (@peculiar/x509 2.x needs a `reflect-metadata` polyfill that is not installed, so CRLs are
 * read with der.ts: the CRL structure is small and fixed, RFC 5280 §5.1.)
 */
import { X509Certificate, createHash, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { SealworkError } from '../errors.js';
import { children, decodeOid, decodeSmallInt, readTlv } from './der.js';
import type { LoadedRoot } from './roots.js';

export const SGX_EXTENSION_OID = '1.2.840.113741.1.13.1';

export interface ParsedCert {
  cert: X509Certificate;
  der: Uint8Array;
  fingerprint256: string;
  publicKey: KeyObject;
  notBefore: number;
  notAfter: number;
  serial: string;
  subject: string;
  issuer: string;
  /** Hex of the DER subject Name (compared with a CRL's issuer). */
  subjectDer: string;
  ca: boolean;
}

const certCache = new Map<string, ParsedCert>();

/** Drop every cached certificate, CRL and chain result (benchmarks: the cold path). */
export function clearCertCaches(): void {
  certCache.clear();
  crlCache.clear();
  crlSigCache.clear();
  chainCache.clear();
}

function normSerial(hex: string): string {
  return hex.toLowerCase().replace(/^0+(?=.)/, '');
}

/** Parse a PEM certificate (cached by its text). */
export function parseCert(pem: string): ParsedCert {
  let p = certCache.get(pem);
  if (p) return p;
  try {
    // X509Certificate parses lazily: the public key (and some fields) are decoded when first
    // read, so every read stays inside this try (a certificate whose key cannot be decoded is
    // malformed, not an internal error).
    const cert = new X509Certificate(pem);
    p = {
      cert,
      der: new Uint8Array(cert.raw),
      fingerprint256: cert.fingerprint256,
      publicKey: cert.publicKey,
      notBefore: Date.parse(cert.validFrom),
      notAfter: Date.parse(cert.validTo),
      serial: normSerial(cert.serialNumber),
      subject: cert.subject,
      issuer: cert.issuer,
      subjectDer: subjectDerHex(new Uint8Array(cert.raw)),
      ca: cert.ca,
    };
  } catch (e) {
    throw new SealworkError('CERT_MALFORMED', 'A certificate in the chain cannot be parsed.', {
      hint: 'Check the PEM chain in the quote or collateral.',
      cause: e,
    });
  }
  if (certCache.size > 4096) certCache.clear();
  certCache.set(pem, p);
  return p;
}

/** Hex of a DER certificate's subject Name (TBSCertificate: [version], serial, alg, issuer, validity, subject). */
function subjectDerHex(der: Uint8Array): string {
  try {
    const tbs = children(readTlv(der).content)[0];
    const f = tbs ? children(tbs.content) : [];
    const subject = f[f[0]?.tag === 0xa0 ? 5 : 4];
    return subject?.tag === 0x30 ? Buffer.from(subject.raw).toString('hex') : '';
  } catch {
    return '';
  }
}

/** The common name (CN) of an X509Certificate subject string ("C=US\nO=…\nCN=…"). */
export function commonName(subject: string): string {
  return (
    subject
      .split('\n')
      .find((l) => l.startsWith('CN='))
      ?.slice(3) ?? ''
  );
}

/** Does this CRL name `issuer` (exact DER subject) and carry its signature? */
export function crlIssuedBy(crl: ParsedCrl, issuer: ParsedCert): boolean {
  return issuer.subjectDer !== '' && crl.issuer === issuer.subjectDer && crlSignedBy(crl, issuer);
}

// ---------- PCK extension ----------

export interface PckExtension {
  ppid: Uint8Array;
  /** The 16 SGX TCB component SVNs. */
  compSvn: number[];
  pceSvn: number;
  cpuSvn: Uint8Array;
  pceId: Uint8Array;
  fmspc: Uint8Array;
  sgxType: number;
}

/** Find an extension's OCTET STRING value in a DER certificate. */
export function findExtension(der: Uint8Array, oid: string): Uint8Array | undefined {
  const cert = readTlv(der);
  const tbs = children(cert.content)[0];
  if (!tbs) return undefined;
  for (const el of children(tbs.content)) {
    if (el.tag !== 0xa3) continue;
    const exts = readTlv(el.content);
    for (const ext of children(exts.content)) {
      const parts = children(ext.content);
      if (parts[0]?.tag === 0x06 && decodeOid(parts[0].content) === oid) {
        const value = parts[parts.length - 1];
        if (value?.tag !== 0x04) return undefined;
        return value.content;
      }
    }
  }
  return undefined;
}

function pckError(msg: string): SealworkError {
  return new SealworkError('PCK_EXTENSION_INVALID', `PCK certificate SGX extension: ${msg}.`, {
    hint: 'The PCK certificate is not a valid Intel SGX PCK certificate.',
  });
}

export function parsePckExtension(der: Uint8Array): PckExtension {
  const value = findExtension(der, SGX_EXTENSION_OID);
  if (!value) throw pckError('missing (OID 1.2.840.113741.1.13.1)');
  const top = readTlv(value);
  if (top.tag !== 0x30) throw pckError('not a SEQUENCE');
  const out: Partial<PckExtension> = {};
  for (const item of children(top.content)) {
    const [id, val] = children(item.content);
    if (!id || !val || id.tag !== 0x06) throw pckError('malformed entry');
    const o = decodeOid(id.content);
    const sub = o.startsWith(`${SGX_EXTENSION_OID}.`) ? o.slice(SGX_EXTENSION_OID.length + 1) : '';
    if (sub === '1' && val.tag === 0x04) out.ppid = val.content;
    else if (sub === '3' && val.tag === 0x04) out.pceId = val.content;
    else if (sub === '4' && val.tag === 0x04) out.fmspc = val.content;
    else if (sub === '5' && val.tag === 0x0a) out.sgxType = decodeSmallInt(val.content);
    else if (sub === '2' && val.tag === 0x30) {
      const comp = new Array<number>(16).fill(-1);
      for (const t of children(val.content)) {
        const [tid, tval] = children(t.content);
        if (!tid || !tval || tid.tag !== 0x06) throw pckError('malformed TCB entry');
        const to = decodeOid(tid.content);
        const n = Number(to.slice(`${SGX_EXTENSION_OID}.2.`.length));
        if (!to.startsWith(`${SGX_EXTENSION_OID}.2.`) || !Number.isInteger(n)) continue;
        if (n >= 1 && n <= 16 && tval.tag === 0x02) comp[n - 1] = decodeSmallInt(tval.content);
        else if (n === 17 && tval.tag === 0x02) out.pceSvn = decodeSmallInt(tval.content);
        else if (n === 18 && tval.tag === 0x04) out.cpuSvn = tval.content;
      }
      if (comp.some((c) => c < 0 || c > 255)) throw pckError('missing or invalid TCB component SVNs');
      out.compSvn = comp;
    }
  }
  if (!out.ppid || !out.compSvn || out.pceSvn === undefined || !out.cpuSvn || !out.pceId || !out.fmspc)
    throw pckError('missing PPID, TCB, PCEID or FMSPC');
  if (out.fmspc.length !== 6 || out.pceId.length !== 2 || out.cpuSvn.length !== 16)
    throw pckError('FMSPC, PCEID or CPUSVN has the wrong length');
  return { sgxType: 0, ...out } as PckExtension;
}

// ---------- CRLs ----------

export interface ParsedCrl {
  der: Uint8Array;
  /** Hex of the DER issuer Name. */
  issuer: string;
  thisUpdate: number;
  nextUpdate: number;
  revoked: Set<string>;
  tbs: Uint8Array;
  signature: Uint8Array;
}

const crlCache = new Map<string, ParsedCrl>();

/** UTCTime / GeneralizedTime → epoch ms. */
function derTime(t: { tag: number; content: Uint8Array }): number {
  const s = Buffer.from(t.content).toString('latin1');
  const m =
    t.tag === 0x17
      ? /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s)
      : /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s);
  if (!m) throw new Error('bad time');
  let year = Number(m[1]);
  if (t.tag === 0x17) year += year >= 50 ? 1900 : 2000;
  return Date.UTC(year, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
}

export function parseCrl(der: Uint8Array): ParsedCrl {
  const key = createHash('sha256').update(der).digest('hex');
  let c = crlCache.get(key);
  if (c) return c;
  try {
    const outer = readTlv(der);
    if (outer.tag !== 0x30 || outer.end !== der.length) throw new Error('not a single SEQUENCE');
    const [tbs, outerAlg, sig, extra] = children(outer.content);
    if (!tbs || !outerAlg || !sig || extra || sig.tag !== 0x03 || sig.content[0] !== 0)
      throw new Error('bad CRL structure');
    const f = children(tbs.content);
    let i = 0;
    if (f[i]?.tag === 0x02) i++; // version
    const innerAlg = f[i++];
    // Both algorithm fields must say ecdsa-with-SHA256 (RFC 5280 §5.1.1.2: they must match).
    const algOid = children(outerAlg.content)[0];
    if (
      !innerAlg ||
      !Buffer.from(innerAlg.raw).equals(Buffer.from(outerAlg.raw)) ||
      !algOid ||
      algOid.tag !== 0x06 ||
      decodeOid(algOid.content) !== '1.2.840.10045.4.3.2'
    )
      throw new Error('CRL signature algorithm is not ecdsa-with-SHA256');
    const issuer = f[i++];
    const thisUpdate = f[i++];
    if (!issuer || issuer.tag !== 0x30 || !thisUpdate) throw new Error('missing issuer or thisUpdate');
    let nextUpdate = Number.POSITIVE_INFINITY;
    if (f[i] && (f[i]!.tag === 0x17 || f[i]!.tag === 0x18)) nextUpdate = derTime(f[i++]!);
    const revoked = new Set<string>();
    if (f[i]?.tag === 0x30) {
      for (const entry of children(f[i]!.content)) {
        const serial = children(entry.content)[0];
        if (!serial || serial.tag !== 0x02) throw new Error('bad revoked entry');
        revoked.add(normSerial(Buffer.from(serial.content).toString('hex')));
      }
    }
    c = {
      der,
      issuer: Buffer.from(issuer.raw).toString('hex'),
      thisUpdate: derTime(thisUpdate),
      nextUpdate,
      revoked,
      tbs: tbs.raw,
      signature: sig.content.subarray(1),
    };
  } catch (e) {
    throw new SealworkError('CRL_MALFORMED', 'A certificate revocation list cannot be parsed.', {
      hint: 'Check the root CA CRL and PCK CRL in the collateral (DER, or hex of DER).',
      cause: e,
    });
  }
  if (crlCache.size > 256) crlCache.clear();
  crlCache.set(key, c);
  return c;
}

/** Does `issuer` sign this CRL? (node:crypto ECDSA-SHA256 over the TBS bytes; cached.) */
const crlSigCache = new Map<string, boolean>();
export function crlSignedBy(crl: ParsedCrl, issuer: ParsedCert): boolean {
  const key = `${issuer.fingerprint256}|${createHash('sha256').update(crl.der).digest('hex')}`;
  let ok = crlSigCache.get(key);
  if (ok === undefined) {
    try {
      ok = cryptoVerify('sha256', crl.tbs, issuer.publicKey, crl.signature);
    } catch {
      ok = false;
    }
    if (crlSigCache.size > 1024) crlSigCache.clear();
    crlSigCache.set(key, ok);
  }
  return ok;
}

// ---------- chains ----------

export interface ChainResult {
  ok: boolean;
  detail: string;
  /** Set when the chain is well formed but does not lead to (or is not signed by) a trusted root. */
  untrustedRoot?: true;
  /** Certificates leaf first, up to but excluding the root. */
  certs: ParsedCert[];
  root?: LoadedRoot;
  /** Intersection of all validity windows (chain and root). */
  notBefore: number;
  notAfter: number;
}

const chainCache = new Map<string, ChainResult>();

/**
 * Verify that `pems` (leaf first; the root itself may be included or not) chains to one of the
 * trusted roots: each certificate is issued and signed by the next, intermediates are CAs.
 * Signature results are cached; validity dates are checked by the caller via notBefore/notAfter.
 */
export function verifyChain(pems: string[], roots: LoadedRoot[]): ChainResult {
  // The key names each root with its simulation flag: the same certificate trusted once as a
  // simulation root must never yield a cached "real hardware" anchor (or the reverse).
  const key = `${roots.map((r) => `${r.fingerprint256}/${r.simulated ? 's' : 'r'}/${r.name}`).join(',')}|${pems.join('')}`;
  const cached = chainCache.get(key);
  if (cached) return cached;
  const res = verifyChainUncached(pems, roots);
  if (chainCache.size > 1024) chainCache.clear();
  chainCache.set(key, res);
  return res;
}

function verifyChainUncached(pems: string[], roots: LoadedRoot[]): ChainResult {
  const fail = (detail: string, certs: ParsedCert[] = [], untrustedRoot = false): ChainResult => ({
    ok: false,
    detail,
    ...(untrustedRoot ? { untrustedRoot: true as const } : {}),
    certs,
    notBefore: 0,
    notAfter: 0,
  });
  if (pems.length === 0) return fail('empty certificate chain');
  if (pems.length > 8) return fail('certificate chain too long');
  let certs: ParsedCert[];
  try {
    certs = pems.map(parseCert);
  } catch (e) {
    return fail((e as Error).message);
  }
  // Drop the trailing root if it is one of ours (by fingerprint), also when it is repeated.
  const last = certs[certs.length - 1]!;
  let root = roots.find((r) => r.fingerprint256 === last.fingerprint256);
  if (root)
    while (certs.length && certs[certs.length - 1]!.fingerprint256 === root.fingerprint256)
      certs = certs.slice(0, -1);
  if (certs.length === 0) return fail('chain holds only a root certificate');
  for (let i = 0; i + 1 < certs.length; i++) {
    const child = certs[i]!;
    const parent = certs[i + 1]!;
    if (!parent.ca) return fail(`certificate "${parent.subject.split('\n')[0]}" is not a CA`, certs);
    if (!child.cert.checkIssued(parent.cert) || !child.cert.verify(parent.publicKey))
      return fail(`certificate ${i} is not signed by certificate ${i + 1}`, certs);
  }
  const top = certs[certs.length - 1]!;
  if (!root) root = roots.find((r) => top.cert.checkIssued(r.cert));
  if (!root) return fail('the chain does not lead to a trusted root', certs, true);
  if (!top.cert.checkIssued(root.cert) || !top.cert.verify(root.cert.publicKey))
    return fail(`the chain is not signed by the trusted root "${root.name}"`, certs, true);
  let notBefore = Date.parse(root.cert.validFrom);
  let notAfter = Date.parse(root.cert.validTo);
  for (const c of certs) {
    notBefore = Math.max(notBefore, c.notBefore);
    notAfter = Math.min(notAfter, c.notAfter);
  }
  return { ok: true, detail: `chains to ${root.name}`, certs, root, notBefore, notAfter };
}

/** Lowest-level helper: raw r‖s P-256 ECDSA-SHA256 verification with node:crypto. */
const p256Keys = new WeakSet<KeyObject>();
/** Is this a P-256 (prime256v1) public key? Anything else never verifies a DCAP signature. */
export function isP256Key(key: KeyObject): boolean {
  if (p256Keys.has(key)) return true;
  const ok = key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1';
  if (ok) p256Keys.add(key);
  return ok;
}

export function verifyP256(data: Uint8Array, sigRS: Uint8Array, key: KeyObject): boolean {
  if (sigRS.length !== 64 || !isP256Key(key)) return false;
  try {
    return cryptoVerify('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, sigRS);
  } catch {
    return false;
  }
}
