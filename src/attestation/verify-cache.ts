/**
 * What quote verification caches: everything that does not depend on the quote (the parsed
 * collateral and its signature results, attestation keys, QE report signatures per PCK key, PCK
 * extensions), so the warm path costs about one P-256 verification per quote.
 */
import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import {
  clearCertCaches,
  parseCrl,
  parsePckExtension,
  verifyP256,
  type ParsedCert,
  type ParsedCrl,
  type PckExtension,
} from './certs.js';
import {
  collateralKey,
  collateralParts,
  parseQeIdentity,
  parseTcbInfo,
  type Collateral,
  type QeIdentity,
  type TcbInfo,
} from './collateral.js';
import { splitPem, type Quote } from './quote.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

// ---------- prepared collateral (cached) ----------

/** A snapshot of one collateral: what is parsed is exactly what signatures are checked over. */
export interface Prepared {
  /** The collateral's fields when this was prepared: reused for the same object only if unchanged. */
  source: unknown[];
  tcbText: string;
  tcbSignature: Uint8Array;
  qeText: string;
  qeSignature: Uint8Array;
  tcb: TcbInfo;
  qe: QeIdentity;
  tcbChain: string[];
  qeChain: string[];
  rootCrl?: ParsedCrl;
  pckCrl?: ParsedCrl;
  /** signer fingerprint → signature ok */
  tcbSig: Map<string, boolean>;
  qeSig: Map<string, boolean>;
}

let preparedByObject = new WeakMap<Collateral, Prepared>();
const preparedByKey = new Map<string, Prepared>();

/** The prepared snapshot of a collateral: by object while its fields are unchanged, else by content. */
export function prepare(c: Collateral): Prepared {
  const source = collateralParts(c);
  let p = preparedByObject.get(c);
  if (p && p.source.every((v, i) => v === source[i])) return p;
  const key = collateralKey(c);
  p = preparedByKey.get(key);
  if (!p) {
    p = {
      source,
      tcbText: c.tcbInfo,
      tcbSignature: Uint8Array.from(c.tcbInfoSignature),
      qeText: c.qeIdentity,
      qeSignature: Uint8Array.from(c.qeIdentitySignature),
      tcb: parseTcbInfo(c.tcbInfo),
      qe: parseQeIdentity(c.qeIdentity),
      tcbChain: splitPem(c.tcbInfoIssuerChain),
      qeChain: splitPem(c.qeIdentityIssuerChain),
      rootCrl: c.rootCaCrl ? parseCrl(Uint8Array.from(c.rootCaCrl)) : undefined,
      pckCrl: c.pckCrl ? parseCrl(Uint8Array.from(c.pckCrl)) : undefined,
      tcbSig: new Map(),
      qeSig: new Map(),
    };
    if (preparedByKey.size > 64) preparedByKey.clear();
    preparedByKey.set(key, p);
  }
  // A shared entry (same content, another object) keeps its caches; remember this object's fields.
  if (p.source !== source) p = { ...p, source };
  preparedByObject.set(c, p);
  return p;
}

const attKeyCache = new Map<string, KeyObject | null>();
/** The quote's attestation key (64 bytes x ‖ y) as a P-256 key, or null when it is not a P-256 point. */
export function attestationKeyObject(raw: Uint8Array): KeyObject | null {
  const k = hex(raw);
  let ko = attKeyCache.get(k);
  if (ko === undefined) {
    try {
      ko = createPublicKey({
        key: {
          kty: 'EC',
          crv: 'P-256',
          x: Buffer.from(raw.subarray(0, 32)).toString('base64url'),
          y: Buffer.from(raw.subarray(32, 64)).toString('base64url'),
        },
        format: 'jwk',
      });
    } catch {
      ko = null;
    }
    if (attKeyCache.size > 4096) attKeyCache.clear();
    attKeyCache.set(k, ko);
  }
  return ko;
}

const qeSigCache = new Map<string, boolean>();
/** Whether the QE report is signed by the PCK certificate's key (cached per PCK key and report). */
export function qeReportSignedBy(q: Quote, pck: ParsedCert): boolean {
  const key = createHash('sha256')
    .update(pck.fingerprint256)
    .update(q.qeReport.raw)
    .update(q.qeReportSignature)
    .digest('hex');
  let ok = qeSigCache.get(key);
  if (ok === undefined) {
    ok = verifyP256(q.qeReport.raw, q.qeReportSignature, pck.publicKey);
    if (qeSigCache.size > 4096) qeSigCache.clear();
    qeSigCache.set(key, ok);
  }
  return ok;
}

const pckExtCache = new Map<string, PckExtension>();

/** The PCK certificate's SGX extension (FMSPC, PCEID, TCB), parsed once per certificate. */
export function pckExtension(leaf: ParsedCert): PckExtension {
  let e = pckExtCache.get(leaf.fingerprint256);
  if (!e) {
    e = parsePckExtension(leaf.der);
    if (pckExtCache.size > 4096) pckExtCache.clear();
    pckExtCache.set(leaf.fingerprint256, e);
  }
  return e;
}

/** The TCB info's or QE identity's signature by `signer`, over the exact JSON text (cached per signer). */
export function collateralSignedBy(prep: Prepared, part: 'tcb' | 'qe', signer: ParsedCert): boolean {
  const cache = part === 'tcb' ? prep.tcbSig : prep.qeSig;
  let ok = cache.get(signer.fingerprint256);
  if (ok === undefined) {
    ok =
      part === 'tcb'
        ? verifyP256(Buffer.from(prep.tcbText), prep.tcbSignature, signer.publicKey)
        : verifyP256(Buffer.from(prep.qeText), prep.qeSignature, signer.publicKey);
    cache.set(signer.fingerprint256, ok);
  }
  return ok;
}

/** Forget everything cached (parsed collateral, chains, signature results): the next verification is cold. */
export function clearVerificationCaches(): void {
  preparedByObject = new WeakMap();
  preparedByKey.clear();
  attKeyCache.clear();
  qeSigCache.clear();
  pckExtCache.clear();
  clearCertCaches();
}
