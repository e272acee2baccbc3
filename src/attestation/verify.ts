/**
 * DCAP quote verification — the steps of Intel's QVL, with node:crypto for every signature:
 * PCK chain to a trusted root, root CA CRL and PCK CRL, PCK extension, TCB info and QE identity
 * (chain, signature over the exact JSON text, validity window), QE report signature by the PCK
 * key, QE report data binding of the attestation key, QE identity match, quote signature by the
 * attestation key, TCB level → status with advisories (merged with the QE and TDX module status).
 *
 * Everything that does not depend on the quote is cached (parsed collateral, chain and
 * signature results), so the warm path costs about one P-256 verification per quote.
 */
import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { SealworkError } from '../errors.js';
import {
  clearCertCaches,
  commonName,
  crlIssuedBy,
  isP256Key,
  parseCert,
  parseCrl,
  parsePckExtension,
  verifyChain,
  verifyP256,
  type ChainResult,
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
  type TcbStatus,
} from './collateral.js';
import {
  INTEL_QE_VENDOR_ID,
  parseQuote,
  splitPem,
  type EnclaveReport,
  type Quote,
  type TdReport,
} from './quote.js';
import { INTEL_SGX_ROOT, loadRoot, type LoadedRoot, type TrustedRoot } from './roots.js';
import { checkQeIdentity, checkTdxModule, evaluateTcb } from './tcb.js';

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
  /** A certificate chain check that failed because the chain does not lead to a trusted root. */
  untrustedRoot?: true;
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

export interface SgxIdentity {
  tee: 'sgx';
  mrenclave: string;
  mrsigner: string;
  isvProdId: number;
  isvSvn: number;
  /** 16 bytes hex (FLAGS ‖ XFRM). */
  attributes: string;
  miscSelect: number;
  cpuSvn: string;
  debug: boolean;
  /** 64 bytes hex. */
  reportData: string;
}

export interface TdxIdentity {
  tee: 'tdx';
  mrtd: string;
  rtmr0: string;
  rtmr1: string;
  rtmr2: string;
  rtmr3: string;
  mrseam: string;
  mrsignerseam: string;
  mrConfigId: string;
  mrOwner: string;
  mrOwnerConfig: string;
  tdAttributes: string;
  xfam: string;
  teeTcbSvn: string;
  /** TD report 1.5 only (v5 body type 3). */
  teeTcbSvn2?: string;
  mrServiceTd?: string;
  debug: boolean;
  reportData: string;
}

export type QuoteIdentity = SgxIdentity | TdxIdentity;

export interface VerificationResult {
  /** True only when every check passed (and the TCB is not revoked). */
  ok: boolean;
  tee: 'sgx' | 'tdx';
  quoteVersion: number;
  identity: QuoteIdentity;
  tcbStatus: TcbStatus | null;
  advisoryIds: string[];
  /** FMSPC from the PCK certificate (hex, lowercase), when it could be read. */
  fmspc: string | null;
  /** True when the chains lead to a simulation root (never real hardware). */
  simulated: boolean;
  /** Name of the trust anchor the chains lead to. */
  root: string | null;
  checks: Check[];
  /** The verification time used (ISO). */
  verifiedAt: string;
  /** Earliest expiry among the collateral used (ISO), when verified. */
  collateralExpiresAt?: string;
}

export interface VerifyQuoteParameters {
  /** Raw quote bytes (padding allowed) or an already parsed quote. */
  quote: Uint8Array | Quote;
  collateral: Collateral;
  /** Verification time (default now). */
  at?: Date;
  /**
   * Extra trust anchors, in addition to the pinned Intel SGX Root CA (e.g. the simulation root
   * of `openSimPlatform`). Verdicts anchored at a root with `simulated: true` are marked so.
   */
  trustedRoots?: TrustedRoot[];
}

export function identityOf(q: Quote): QuoteIdentity {
  if (q.body.kind === 'sgx') {
    const b: EnclaveReport = q.body;
    return {
      tee: 'sgx',
      mrenclave: hex(b.mrEnclave),
      mrsigner: hex(b.mrSigner),
      isvProdId: b.isvProdId,
      isvSvn: b.isvSvn,
      attributes: hex(b.attributes),
      miscSelect: b.miscSelect,
      cpuSvn: hex(b.cpuSvn),
      debug: b.debug,
      reportData: hex(b.reportData),
    };
  }
  const t: TdReport = q.body;
  return {
    tee: 'tdx',
    mrtd: hex(t.mrTd),
    rtmr0: hex(t.rtmr[0]),
    rtmr1: hex(t.rtmr[1]),
    rtmr2: hex(t.rtmr[2]),
    rtmr3: hex(t.rtmr[3]),
    mrseam: hex(t.mrSeam),
    mrsignerseam: hex(t.mrSignerSeam),
    mrConfigId: hex(t.mrConfigId),
    mrOwner: hex(t.mrOwner),
    mrOwnerConfig: hex(t.mrOwnerConfig),
    tdAttributes: hex(t.tdAttributes),
    xfam: hex(t.xfam),
    teeTcbSvn: hex(t.teeTcbSvn),
    ...(t.teeTcbSvn2 ? { teeTcbSvn2: hex(t.teeTcbSvn2) } : {}),
    ...(t.mrServiceTd ? { mrServiceTd: hex(t.mrServiceTd) } : {}),
    debug: t.debug,
    reportData: hex(t.reportData),
  };
}

// ---------- prepared collateral (cached) ----------

/** A snapshot of one collateral: what is parsed is exactly what signatures are checked over. */
interface Prepared {
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

function prepare(c: Collateral): Prepared {
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
function attestationKeyObject(raw: Uint8Array): KeyObject | null {
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
function qeReportSignedBy(q: Quote, pck: ParsedCert): boolean {
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

/** Forget everything cached (parsed collateral, chains, signature results): the next verification is cold. */
export function clearVerificationCaches(): void {
  preparedByObject = new WeakMap();
  preparedByKey.clear();
  attKeyCache.clear();
  qeSigCache.clear();
  pckExtCache.clear();
  clearCertCaches();
}
function pckExtension(leaf: ParsedCert): PckExtension {
  let e = pckExtCache.get(leaf.fingerprint256);
  if (!e) {
    e = parsePckExtension(leaf.der);
    if (pckExtCache.size > 4096) pckExtCache.clear();
    pckExtCache.set(leaf.fingerprint256, e);
  }
  return e;
}

const iso = (t: number) => (Number.isFinite(t) ? new Date(t).toISOString() : 'never');

/** Verify a quote synchronously (the work is CPU-bound; see verifyQuote). */
export function verifyQuoteSync(params: VerifyQuoteParameters): VerificationResult {
  const quote = params.quote instanceof Uint8Array ? parseQuote(params.quote) : params.quote;
  const col = params.collateral as Partial<Collateral> | undefined;
  if (!col || typeof col !== 'object')
    throw new SealworkError('COLLATERAL_MISSING', 'No collateral given for quote verification.', {
      hint: 'Pass the TCB info, QE identity and CRLs (parseCollateral).',
    });
  if (
    typeof col.tcbInfo !== 'string' ||
    typeof col.qeIdentity !== 'string' ||
    typeof col.tcbInfoIssuerChain !== 'string' ||
    typeof col.qeIdentityIssuerChain !== 'string' ||
    !(col.tcbInfoSignature instanceof Uint8Array) ||
    !(col.qeIdentitySignature instanceof Uint8Array) ||
    (col.rootCaCrl !== undefined && !(col.rootCaCrl instanceof Uint8Array)) ||
    (col.pckCrl !== undefined && !(col.pckCrl instanceof Uint8Array))
  )
    throw new SealworkError(
      'COLLATERAL_INVALID',
      'Invalid collateral: fields missing or of the wrong type.',
      {
        hint: 'Build it with parseCollateral() from Intel PCS responses or a *_collateral.json file.',
      },
    );
  const at = params.at ?? new Date();
  const now = at.getTime();
  if (Number.isNaN(now))
    throw new SealworkError('INVALID_TIME', 'The verification time is not a valid date.', {
      hint: 'Give an ISO 8601 date, e.g. 2025-06-20T00:00:00Z.',
    });
  const roots: LoadedRoot[] = [INTEL_SGX_ROOT, ...(params.trustedRoots ?? [])].map(loadRoot);
  const prep = prepare(params.collateral);
  const checks: Check[] = [];
  const result: VerificationResult = {
    ok: false,
    tee: quote.tee,
    quoteVersion: quote.header.version,
    identity: identityOf(quote),
    tcbStatus: null,
    advisoryIds: [],
    fmspc: null,
    simulated: false,
    root: null,
    checks,
    verifiedAt: at.toISOString(),
  };
  const check = (name: string, ok: boolean, detail: string, chain?: ChainResult): boolean => {
    checks.push({
      name,
      ok,
      detail,
      ...(!ok && chain?.untrustedRoot ? { untrustedRoot: true as const } : {}),
    });
    return ok;
  };
  const done = () => result;

  // Intel QVL Quote::validate: Intel QE vendor id; certification data types 1–5.
  const vendorOk = hex(quote.header.qeVendorId) === INTEL_QE_VENDOR_ID;
  const certTypeOk = quote.certification.type >= 1 && quote.certification.type <= 5;
  if (
    !check(
      'quote.format',
      vendorOk && certTypeOk,
      !vendorOk
        ? `QE vendor id ${hex(quote.header.qeVendorId)} is not Intel's (${INTEL_QE_VENDOR_ID})`
        : !certTypeOk
          ? `unsupported certification data type ${quote.certification.type}`
          : `${quote.tee.toUpperCase()} quote v${quote.header.version}, body type ${quote.bodyType}, ${quote.length} bytes`,
    )
  )
    return done();

  // --- PCK certificate chain (4.1.2.4.1–4) ---
  const pckPems =
    quote.certification.type === 5 && quote.certification.pemChain?.length
      ? quote.certification.pemChain
      : params.collateral.pckCertChain
        ? splitPem(params.collateral.pckCertChain)
        : [];
  if (pckPems.length === 0) {
    check(
      'pck.chain',
      false,
      `no PCK certificate chain: certification data type ${quote.certification.type} carries none and the collateral has no pckCertChain`,
    );
    return done();
  }
  const pckChain = verifyChain(pckPems, roots);
  if (!check('pck.chain', pckChain.ok, `PCK chain: ${pckChain.detail}`, pckChain)) return done();
  // Intel's hierarchy: PCK certificate ← PCK Processor/Platform CA ← root. Exactly that depth, so
  // the root CA CRL covers the intermediate and the PCK CRL covers the leaf.
  const pckLeaf = pckChain.certs[0]!;
  const pckCa = pckChain.certs[1];
  const pckShape =
    pckChain.certs.length !== 2 || !pckCa
      ? `the PCK chain has ${pckChain.certs.length} certificate(s) below the root, expected 2 (PCK certificate, PCK CA)`
      : !/SGX PCK Certificate/.test(commonName(pckLeaf.subject)) || pckLeaf.ca
        ? `leaf "${commonName(pckLeaf.subject)}" is not an SGX PCK certificate`
        : !/SGX PCK (Processor|Platform) CA/.test(commonName(pckCa.subject))
          ? `issuer "${commonName(pckCa.subject)}" is not an SGX PCK Processor/Platform CA`
          : !isP256Key(pckLeaf.publicKey)
            ? 'the PCK public key is not P-256'
            : undefined;
  if (
    !check(
      'pck.certificate',
      pckShape === undefined,
      pckShape ?? `"${commonName(pckLeaf.subject)}" issued by "${commonName(pckCa!.subject)}"`,
    )
  )
    return done();

  // --- collateral chains, all anchored at the same root ---
  // The TCB signing certificate is issued by the root itself (one certificate below it).
  const signerCn = (c: ChainResult) =>
    c.ok &&
    c.certs.length === 1 &&
    !c.certs[0]!.ca &&
    /SGX TCB Signing/.test(commonName(c.certs[0]!.subject)) &&
    isP256Key(c.certs[0]!.publicKey);
  const signingChainDetail = (what: string, c: ChainResult) =>
    c.ok
      ? c.certs.length === 1
        ? `${what} signing chain: ${c.detail}, signer "${commonName(c.certs[0]!.subject)}"`
        : `${what} signing chain: ${c.certs.length} certificates below the root, expected 1 (SGX TCB Signing)`
      : `${what} signing chain: ${c.detail}`;
  const tcbChain = verifyChain(prep.tcbChain, roots);
  if (!check('tcb.info.chain', signerCn(tcbChain), signingChainDetail('TCB info', tcbChain), tcbChain))
    return done();
  const qeChain = verifyChain(prep.qeChain, roots);
  if (!check('qe.identity.chain', signerCn(qeChain), signingChainDetail('QE identity', qeChain), qeChain))
    return done();
  const root = pckChain.root!;
  const sameRoot =
    tcbChain.root?.fingerprint256 === root.fingerprint256 &&
    qeChain.root?.fingerprint256 === root.fingerprint256 &&
    tcbChain.root.simulated === root.simulated &&
    qeChain.root.simulated === root.simulated;
  if (
    !check(
      'trust.anchor',
      sameRoot,
      sameRoot
        ? `${root.name}${root.simulated ? ' (simulation root)' : ''}, SHA-256 ${root.fingerprint256}`
        : 'the PCK chain and the collateral chains lead to different roots',
    )
  )
    return done();
  result.root = root.name;
  result.simulated = root.simulated;

  // --- validity windows at the verification time ---
  const windows: [string, number, number][] = [
    ['PCK chain', pckChain.notBefore, pckChain.notAfter],
    ['TCB info chain', tcbChain.notBefore, tcbChain.notAfter],
    ['QE identity chain', qeChain.notBefore, qeChain.notAfter],
    ['TCB info', prep.tcb.issueDate, prep.tcb.nextUpdate],
    ['QE identity', prep.qe.issueDate, prep.qe.nextUpdate],
  ];
  if (prep.rootCrl) windows.push(['root CA CRL', prep.rootCrl.thisUpdate, prep.rootCrl.nextUpdate]);
  if (prep.pckCrl) windows.push(['PCK CRL', prep.pckCrl.thisUpdate, prep.pckCrl.nextUpdate]);
  // Written so that an unreadable date (NaN) counts as outside the window: fail closed.
  const outside = windows.filter(([, from, to]) => !(now >= from && now <= to));
  if (
    !check(
      'collateral.validity',
      outside.length === 0,
      outside.length === 0
        ? `all certificates, CRLs, TCB info and QE identity valid at ${at.toISOString()}`
        : outside.map(([n, f, t]) => `${n} valid ${iso(f)} .. ${iso(t)}`).join('; ') +
            ` — not at ${at.toISOString()}`,
    )
  )
    return done();
  result.collateralExpiresAt = iso(Math.min(...windows.map((w) => w[2])));

  // --- CRLs (4.1.2.4.5–7) ---
  if (!prep.rootCrl) {
    check('root.crl', false, 'no root CA CRL in the collateral');
    return done();
  }
  const rootCrl = prep.rootCrl;
  const rootParsed: ParsedCert = parseCert(root.pem);
  const intermediates = (c: ChainResult) => c.certs[c.certs.length - 1]!;
  const rootRevoked = [pckChain, tcbChain, qeChain]
    .map(intermediates)
    .filter((c) => rootCrl.revoked.has(c.serial));
  const rootSerial = root.cert.serialNumber.toLowerCase().replace(/^0+(?=.)/, '');
  if (rootCrl.revoked.has(rootSerial))
    rootRevoked.push({ ...rootParsed, subject: `${root.name} (the root itself)` });
  const rootCrlOk = crlIssuedBy(rootCrl, rootParsed);
  if (
    !check(
      'root.crl',
      rootCrlOk && rootRevoked.length === 0,
      !rootCrlOk
        ? `the root CA CRL is not issued and signed by ${root.name}`
        : rootRevoked.length
          ? `revoked by the root CA CRL: ${rootRevoked.map((c) => c.subject.replace(/\n/g, ', ')).join('; ')}`
          : `issued and signed by ${root.name}; no chain certificate revoked`,
    )
  )
    return done();
  if (!prep.pckCrl) {
    check('pck.crl', false, 'no PCK CRL in the collateral');
    return done();
  }
  const pckCrlOk = crlIssuedBy(prep.pckCrl, pckCa!);
  const pckRevoked = prep.pckCrl.revoked.has(pckLeaf.serial);
  if (
    !check(
      'pck.crl',
      pckCrlOk && !pckRevoked,
      !pckCrlOk
        ? `the PCK CRL is not issued and signed by "${commonName(pckCa!.subject)}" (the PCK certificate's issuer)`
        : pckRevoked
          ? 'the PCK certificate is revoked'
          : `issued and signed by "${commonName(pckCa!.subject)}"; PCK certificate not revoked`,
    )
  )
    return done();

  // --- TCB info and QE identity signatures over their exact JSON text ---
  const tcbSigner = tcbChain.certs[0]!;
  let tcbSigOk = prep.tcbSig.get(tcbSigner.fingerprint256);
  if (tcbSigOk === undefined) {
    tcbSigOk = verifyP256(Buffer.from(prep.tcbText), prep.tcbSignature, tcbSigner.publicKey);
    prep.tcbSig.set(tcbSigner.fingerprint256, tcbSigOk);
  }
  if (!check('tcb.info.signature', tcbSigOk, 'TCB info signed by the TCB signing certificate')) return done();
  const qeSigner = qeChain.certs[0]!;
  let qeSigOk = prep.qeSig.get(qeSigner.fingerprint256);
  if (qeSigOk === undefined) {
    qeSigOk = verifyP256(Buffer.from(prep.qeText), prep.qeSignature, qeSigner.publicKey);
    prep.qeSig.set(qeSigner.fingerprint256, qeSigOk);
  }
  if (!check('qe.identity.signature', qeSigOk, 'QE identity signed by the TCB signing certificate'))
    return done();

  // --- PCK extension vs TCB info (4.1.2.4.9–10) ---
  let ext: PckExtension;
  try {
    ext = pckExtension(pckLeaf);
  } catch (e) {
    check('pck.extension', false, (e as Error).message);
    return done();
  }
  result.fmspc = hex(ext.fmspc);
  check(
    'pck.extension',
    true,
    `FMSPC ${hex(ext.fmspc)}, PCEID ${hex(ext.pceId)}, PCESVN ${ext.pceSvn}, CPUSVN ${hex(ext.cpuSvn)}`,
  );
  const tcb = prep.tcb;
  const mismatch: string[] = [];
  if (quote.tee === 'tdx' && (tcb.version < 3 || tcb.id !== 'TDX'))
    mismatch.push(`TDX quote with ${tcb.id} TCB info v${tcb.version}`);
  if (quote.tee === 'sgx' && tcb.id !== 'SGX') mismatch.push(`SGX quote with ${tcb.id} TCB info`);
  if (tcb.fmspc !== hex(ext.fmspc)) mismatch.push(`FMSPC ${hex(ext.fmspc)} ≠ TCB info ${tcb.fmspc}`);
  if (tcb.pceId !== hex(ext.pceId)) mismatch.push(`PCEID ${hex(ext.pceId)} ≠ TCB info ${tcb.pceId}`);
  if (
    !check(
      'tcb.info.match',
      mismatch.length === 0,
      mismatch.join('; ') || `TCB info ${tcb.id} v${tcb.version} for FMSPC ${tcb.fmspc}`,
    )
  )
    return done();

  // --- TDX module identity (4.1.2.4.11) ---
  if (quote.tee === 'tdx') {
    const m = checkTdxModule(quote, tcb);
    if (
      !check(
        'tdx.module',
        m === undefined,
        m ?? 'MRSIGNERSEAM and SEAMATTRIBUTES match the TDX module identity',
      )
    )
      return done();
  }

  // --- QE report (4.1.2.4.12–13) ---
  if (!check('qe.report.signature', qeReportSignedBy(quote, pckLeaf), 'QE report signed by the PCK key'))
    return done();
  const binding = createHash('sha256').update(quote.attestationKey).update(quote.qeAuthData).digest();
  const qeRd = quote.qeReport.reportData;
  const bound = binding.equals(Buffer.from(qeRd.subarray(0, 32))) && qeRd.subarray(32).every((b) => b === 0);
  if (
    !check(
      'qe.report.data',
      bound,
      bound
        ? 'QE report data = SHA-256(attestation key ‖ QE auth data) ‖ 32 zero bytes'
        : 'QE report data is not SHA-256(attestation key ‖ QE auth data) ‖ 32 zero bytes',
    )
  )
    return done();

  // --- QE identity (4.1.2.4.14–15) ---
  const qe = prep.qe;
  const wantId = quote.tee === 'tdx' ? 'TD_QE' : 'QE';
  const idErr =
    qe.id !== wantId
      ? `QE identity id ${qe.id}, expected ${wantId}`
      : quote.tee === 'tdx' && qe.version < 2
        ? 'QE identity v1 cannot verify TDX'
        : checkQeIdentity(quote.qeReport, qe);
  if (
    !check(
      'qe.identity.match',
      idErr === undefined,
      idErr ?? `QE report matches ${qe.id} identity v${qe.version}`,
    )
  )
    return done();

  // --- quote signature (4.1.2.4.16) ---
  const attKey = attestationKeyObject(quote.attestationKey);
  const sigOk = attKey !== null && verifyP256(quote.signedData, quote.signature, attKey);
  if (
    !check(
      'quote.signature',
      sigOk,
      attKey ? 'quote signed by the attestation key' : 'attestation key is not a P-256 point',
    )
  )
    return done();

  // --- TCB level (4.1.2.4.17) ---
  const ev = evaluateTcb(quote, ext, tcb, qe);
  result.tcbStatus = ev.status ?? null;
  result.advisoryIds = ev.advisoryIds;
  if (!check('tcb.level', ev.ok, ev.detail)) return done();
  result.ok = true;
  return done();
}

/** Verify a DCAP quote against its collateral. Never throws for a failed check (see `ok`/`checks`);
 * throws SealworkError for malformed input (QUOTE_MALFORMED, COLLATERAL_INVALID, …). */
export async function verifyQuote(params: VerifyQuoteParameters): Promise<VerificationResult> {
  return verifyQuoteSync(params);
}
