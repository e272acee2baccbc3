/**
 * DCAP quote verification — the steps of Intel's QVL, with node:crypto for every signature:
 * PCK chain to a trusted root, root CA CRL and PCK CRL, PCK extension, TCB info and QE identity
 * (chain, signature over the exact JSON text, validity window), QE report signature by the PCK
 * key, QE report data binding of the attestation key, QE identity match, quote signature by the
 * attestation key, TCB level → status with advisories (merged with the QE and TDX module status).
 *
 * `verifyQuoteSync` runs these as a pipeline of named steps (`runSteps`): each records its
 * check(s) and returns what the next steps need, or nothing when its check failed, which ends
 * the verification. Everything that does not depend on the quote is cached (verify-cache.ts), so
 * the warm path costs about one P-256 verification per quote.
 */
import { createHash } from 'node:crypto';
import { SealworkError } from '../errors.js';
import {
  commonName,
  crlIssuedBy,
  isP256Key,
  parseCert,
  verifyChain,
  verifyP256,
  type ChainResult,
  type ParsedCert,
  type PckExtension,
} from './certs.js';
import type { Collateral, TcbStatus } from './collateral.js';
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
import {
  attestationKeyObject,
  collateralSignedBy,
  pckExtension,
  prepare,
  qeReportSignedBy,
  type Prepared,
} from './verify-cache.js';

export { clearVerificationCaches } from './verify-cache.js';

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

// ---------- the pipeline ----------

/** One verification under way: its inputs, and the result its steps fill in. */
interface Run {
  quote: Quote;
  collateral: Collateral;
  /** The collateral, parsed and snapshotted (cached). */
  prep: Prepared;
  roots: LoadedRoot[];
  at: Date;
  result: VerificationResult;
}

/** The PCK chain with its two certificates below the root. */
interface PckChain {
  chain: ChainResult;
  leaf: ParsedCert;
  ca: ParsedCert;
}

/** The TCB info and QE identity signing chains (one certificate each below the root). */
interface CollateralChains {
  tcb: ChainResult;
  qe: ChainResult;
}

const iso = (t: number) => (Number.isFinite(t) ? new Date(t).toISOString() : 'never');

/** Record a check in the result; returns whether it passed. */
function record(run: Run, name: string, ok: boolean, detail: string, chain?: ChainResult): boolean {
  run.result.checks.push({
    name,
    ok,
    detail,
    ...(!ok && chain?.untrustedRoot ? { untrustedRoot: true as const } : {}),
  });
  return ok;
}

/** Verify a quote synchronously (the work is CPU-bound; see verifyQuote). */
export function verifyQuoteSync(params: VerifyQuoteParameters): VerificationResult {
  const run = openRun(params);
  run.result.ok = runSteps(run);
  return run.result;
}

/**
 * The steps, in the order Intel's QVL takes them. Each records its check(s); the first that
 * fails ends the verification (its check is the last in `checks`).
 */
function runSteps(run: Run): boolean {
  if (!quoteFormat(run)) return false;
  const pck = pckCertificateChain(run);
  if (!pck) return false;
  const chains = collateralChains(run);
  if (!chains) return false;
  const root = trustAnchor(run, pck, chains);
  if (!root) return false;
  if (!collateralValidity(run, pck, chains)) return false;
  if (!rootCaCrl(run, root, pck, chains) || !pckCrl(run, pck)) return false;
  if (!collateralSignatures(run, chains)) return false;
  const ext = pckExtensionOf(run, pck.leaf);
  if (!ext) return false;
  return (
    tcbInfoMatch(run, ext) &&
    tdxModule(run) &&
    qeReportSignature(run, pck.leaf) &&
    attestationKeyBinding(run) &&
    qeIdentityMatch(run) &&
    quoteSignature(run) &&
    tcbLevel(run, ext)
  );
}

// ---------- input (throws for malformed input, before any check) ----------

function openRun(params: VerifyQuoteParameters): Run {
  const quote = params.quote instanceof Uint8Array ? parseQuote(params.quote) : params.quote;
  assertCollateral(params.collateral);
  const at = verificationTime(params.at);
  const roots: LoadedRoot[] = [INTEL_SGX_ROOT, ...(params.trustedRoots ?? [])].map(loadRoot);
  const prep = prepare(params.collateral);
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
    checks: [],
    verifiedAt: at.toISOString(),
  };
  return { quote, collateral: params.collateral, prep, roots, at, result };
}

function assertCollateral(collateral: Collateral): void {
  const col = collateral as Partial<Collateral> | undefined;
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
}

function verificationTime(given: Date | undefined): Date {
  const at = given ?? new Date();
  if (Number.isNaN(at.getTime()))
    throw new SealworkError('INVALID_TIME', 'The verification time is not a valid date.', {
      hint: 'Give an ISO 8601 date, e.g. 2025-06-20T00:00:00Z.',
    });
  return at;
}

// ---------- quote format ----------

/** Intel QVL Quote::validate: Intel QE vendor id; certification data types 1–5. */
function quoteFormat(run: Run): boolean {
  const { quote } = run;
  const vendorOk = hex(quote.header.qeVendorId) === INTEL_QE_VENDOR_ID;
  const certTypeOk = quote.certification.type >= 1 && quote.certification.type <= 5;
  return record(
    run,
    'quote.format',
    vendorOk && certTypeOk,
    !vendorOk
      ? `QE vendor id ${hex(quote.header.qeVendorId)} is not Intel's (${INTEL_QE_VENDOR_ID})`
      : !certTypeOk
        ? `unsupported certification data type ${quote.certification.type}`
        : `${quote.tee.toUpperCase()} quote v${quote.header.version}, body type ${quote.bodyType}, ${quote.length} bytes`,
  );
}

// ---------- certification chains and trust anchor ----------

/** PCK certificate chain (4.1.2.4.1–4): from the quote (type 5) or the collateral, to a trusted root. */
function pckCertificateChain(run: Run): PckChain | undefined {
  const { quote } = run;
  const pems =
    quote.certification.type === 5 && quote.certification.pemChain?.length
      ? quote.certification.pemChain
      : run.collateral.pckCertChain
        ? splitPem(run.collateral.pckCertChain)
        : [];
  if (pems.length === 0) {
    record(
      run,
      'pck.chain',
      false,
      `no PCK certificate chain: certification data type ${quote.certification.type} carries none and the collateral has no pckCertChain`,
    );
    return undefined;
  }
  const chain = verifyChain(pems, run.roots);
  if (!record(run, 'pck.chain', chain.ok, `PCK chain: ${chain.detail}`, chain)) return undefined;
  const leaf = chain.certs[0]!;
  const ca = chain.certs[1];
  const shape = pckShapeError(chain);
  if (
    !record(
      run,
      'pck.certificate',
      shape === undefined,
      shape ?? `"${commonName(leaf.subject)}" issued by "${commonName(ca!.subject)}"`,
    )
  )
    return undefined;
  return { chain, leaf, ca: ca! };
}

/**
 * Intel's hierarchy: PCK certificate ← PCK Processor/Platform CA ← root. Exactly that depth, so
 * the root CA CRL covers the intermediate and the PCK CRL covers the leaf.
 */
function pckShapeError(chain: ChainResult): string | undefined {
  const leaf = chain.certs[0]!;
  const ca = chain.certs[1];
  return chain.certs.length !== 2 || !ca
    ? `the PCK chain has ${chain.certs.length} certificate(s) below the root, expected 2 (PCK certificate, PCK CA)`
    : !/SGX PCK Certificate/.test(commonName(leaf.subject)) || leaf.ca
      ? `leaf "${commonName(leaf.subject)}" is not an SGX PCK certificate`
      : !/SGX PCK (Processor|Platform) CA/.test(commonName(ca.subject))
        ? `issuer "${commonName(ca.subject)}" is not an SGX PCK Processor/Platform CA`
        : !isP256Key(leaf.publicKey)
          ? 'the PCK public key is not P-256'
          : undefined;
}

/** The TCB info and QE identity signing chains: the TCB signing certificate is issued by the root itself. */
function collateralChains(run: Run): CollateralChains | undefined {
  const tcb = verifyChain(run.prep.tcbChain, run.roots);
  if (!record(run, 'tcb.info.chain', isTcbSigningChain(tcb), signingChainDetail('TCB info', tcb), tcb))
    return undefined;
  const qe = verifyChain(run.prep.qeChain, run.roots);
  if (!record(run, 'qe.identity.chain', isTcbSigningChain(qe), signingChainDetail('QE identity', qe), qe))
    return undefined;
  return { tcb, qe };
}

const isTcbSigningChain = (c: ChainResult) =>
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

/** All three chains lead to the same root; the result names it (and whether it is a simulation root). */
function trustAnchor(run: Run, pck: PckChain, chains: CollateralChains): LoadedRoot | undefined {
  const root = pck.chain.root!;
  const { tcb, qe } = chains;
  const sameRoot =
    tcb.root?.fingerprint256 === root.fingerprint256 &&
    qe.root?.fingerprint256 === root.fingerprint256 &&
    tcb.root.simulated === root.simulated &&
    qe.root.simulated === root.simulated;
  if (
    !record(
      run,
      'trust.anchor',
      sameRoot,
      sameRoot
        ? `${root.name}${root.simulated ? ' (simulation root)' : ''}, SHA-256 ${root.fingerprint256}`
        : 'the PCK chain and the collateral chains lead to different roots',
    )
  )
    return undefined;
  run.result.root = root.name;
  run.result.simulated = root.simulated;
  return root;
}

// ---------- validity windows and CRLs ----------

/** Every certificate, CRL, TCB info and QE identity is valid at the verification time. */
function collateralValidity(run: Run, pck: PckChain, chains: CollateralChains): boolean {
  const { prep, at } = run;
  const now = at.getTime();
  const windows: [string, number, number][] = [
    ['PCK chain', pck.chain.notBefore, pck.chain.notAfter],
    ['TCB info chain', chains.tcb.notBefore, chains.tcb.notAfter],
    ['QE identity chain', chains.qe.notBefore, chains.qe.notAfter],
    ['TCB info', prep.tcb.issueDate, prep.tcb.nextUpdate],
    ['QE identity', prep.qe.issueDate, prep.qe.nextUpdate],
  ];
  if (prep.rootCrl) windows.push(['root CA CRL', prep.rootCrl.thisUpdate, prep.rootCrl.nextUpdate]);
  if (prep.pckCrl) windows.push(['PCK CRL', prep.pckCrl.thisUpdate, prep.pckCrl.nextUpdate]);
  // Written so that an unreadable date (NaN) counts as outside the window: fail closed.
  const outside = windows.filter(([, from, to]) => !(now >= from && now <= to));
  if (
    !record(
      run,
      'collateral.validity',
      outside.length === 0,
      outside.length === 0
        ? `all certificates, CRLs, TCB info and QE identity valid at ${at.toISOString()}`
        : outside.map(([n, f, t]) => `${n} valid ${iso(f)} .. ${iso(t)}`).join('; ') +
            ` — not at ${at.toISOString()}`,
    )
  )
    return false;
  run.result.collateralExpiresAt = iso(Math.min(...windows.map((w) => w[2])));
  return true;
}

/** Root CA CRL (4.1.2.4.5–6): issued by the root; revokes neither an intermediate nor the root. */
function rootCaCrl(run: Run, root: LoadedRoot, pck: PckChain, chains: CollateralChains): boolean {
  const rootCrl = run.prep.rootCrl;
  if (!rootCrl) return record(run, 'root.crl', false, 'no root CA CRL in the collateral');
  const rootParsed: ParsedCert = parseCert(root.pem);
  const intermediates = (c: ChainResult) => c.certs[c.certs.length - 1]!;
  const revoked = [pck.chain, chains.tcb, chains.qe]
    .map(intermediates)
    .filter((c) => rootCrl.revoked.has(c.serial));
  const rootSerial = root.cert.serialNumber.toLowerCase().replace(/^0+(?=.)/, '');
  if (rootCrl.revoked.has(rootSerial))
    revoked.push({ ...rootParsed, subject: `${root.name} (the root itself)` });
  const issuedOk = crlIssuedBy(rootCrl, rootParsed);
  return record(
    run,
    'root.crl',
    issuedOk && revoked.length === 0,
    !issuedOk
      ? `the root CA CRL is not issued and signed by ${root.name}`
      : revoked.length
        ? `revoked by the root CA CRL: ${revoked.map((c) => c.subject.replace(/\n/g, ', ')).join('; ')}`
        : `issued and signed by ${root.name}; no chain certificate revoked`,
  );
}

/** PCK CRL (4.1.2.4.7): issued by the PCK certificate's issuer; does not revoke the PCK certificate. */
function pckCrl(run: Run, pck: PckChain): boolean {
  const crl = run.prep.pckCrl;
  if (!crl) return record(run, 'pck.crl', false, 'no PCK CRL in the collateral');
  const issuedOk = crlIssuedBy(crl, pck.ca);
  const revoked = crl.revoked.has(pck.leaf.serial);
  return record(
    run,
    'pck.crl',
    issuedOk && !revoked,
    !issuedOk
      ? `the PCK CRL is not issued and signed by "${commonName(pck.ca.subject)}" (the PCK certificate's issuer)`
      : revoked
        ? 'the PCK certificate is revoked'
        : `issued and signed by "${commonName(pck.ca.subject)}"; PCK certificate not revoked`,
  );
}

// ---------- collateral signatures, PCK extension vs TCB info ----------

/** TCB info and QE identity signatures over their exact JSON text, by their signing certificates. */
function collateralSignatures(run: Run, chains: CollateralChains): boolean {
  const tcbOk = collateralSignedBy(run.prep, 'tcb', chains.tcb.certs[0]!);
  if (!record(run, 'tcb.info.signature', tcbOk, 'TCB info signed by the TCB signing certificate'))
    return false;
  const qeOk = collateralSignedBy(run.prep, 'qe', chains.qe.certs[0]!);
  return record(run, 'qe.identity.signature', qeOk, 'QE identity signed by the TCB signing certificate');
}

/** The PCK certificate's SGX extension (4.1.2.4.9); the result gets its FMSPC. */
function pckExtensionOf(run: Run, leaf: ParsedCert): PckExtension | undefined {
  let ext: PckExtension;
  try {
    ext = pckExtension(leaf);
  } catch (e) {
    record(run, 'pck.extension', false, (e as Error).message);
    return undefined;
  }
  run.result.fmspc = hex(ext.fmspc);
  record(
    run,
    'pck.extension',
    true,
    `FMSPC ${hex(ext.fmspc)}, PCEID ${hex(ext.pceId)}, PCESVN ${ext.pceSvn}, CPUSVN ${hex(ext.cpuSvn)}`,
  );
  return ext;
}

/** The TCB info is for this TEE, FMSPC and PCEID (4.1.2.4.10). */
function tcbInfoMatch(run: Run, ext: PckExtension): boolean {
  const { quote } = run;
  const tcb = run.prep.tcb;
  const mismatch: string[] = [];
  if (quote.tee === 'tdx' && (tcb.version < 3 || tcb.id !== 'TDX'))
    mismatch.push(`TDX quote with ${tcb.id} TCB info v${tcb.version}`);
  if (quote.tee === 'sgx' && tcb.id !== 'SGX') mismatch.push(`SGX quote with ${tcb.id} TCB info`);
  if (tcb.fmspc !== hex(ext.fmspc)) mismatch.push(`FMSPC ${hex(ext.fmspc)} ≠ TCB info ${tcb.fmspc}`);
  if (tcb.pceId !== hex(ext.pceId)) mismatch.push(`PCEID ${hex(ext.pceId)} ≠ TCB info ${tcb.pceId}`);
  return record(
    run,
    'tcb.info.match',
    mismatch.length === 0,
    mismatch.join('; ') || `TCB info ${tcb.id} v${tcb.version} for FMSPC ${tcb.fmspc}`,
  );
}

/** TDX module identity (4.1.2.4.11); SGX quotes skip it. */
function tdxModule(run: Run): boolean {
  if (run.quote.tee !== 'tdx') return true;
  const m = checkTdxModule(run.quote, run.prep.tcb);
  return record(
    run,
    'tdx.module',
    m === undefined,
    m ?? 'MRSIGNERSEAM and SEAMATTRIBUTES match the TDX module identity',
  );
}

// ---------- quoting enclave, attestation key, quote signature, TCB level ----------

/** The QE report is signed by the PCK key (4.1.2.4.12). */
function qeReportSignature(run: Run, leaf: ParsedCert): boolean {
  return record(
    run,
    'qe.report.signature',
    qeReportSignedBy(run.quote, leaf),
    'QE report signed by the PCK key',
  );
}

/** The QE report data binds the attestation key (4.1.2.4.13). */
function attestationKeyBinding(run: Run): boolean {
  const { quote } = run;
  const binding = createHash('sha256').update(quote.attestationKey).update(quote.qeAuthData).digest();
  const qeRd = quote.qeReport.reportData;
  const bound = binding.equals(Buffer.from(qeRd.subarray(0, 32))) && qeRd.subarray(32).every((b) => b === 0);
  return record(
    run,
    'qe.report.data',
    bound,
    bound
      ? 'QE report data = SHA-256(attestation key ‖ QE auth data) ‖ 32 zero bytes'
      : 'QE report data is not SHA-256(attestation key ‖ QE auth data) ‖ 32 zero bytes',
  );
}

/** The QE report matches the QE identity (4.1.2.4.14–15). */
function qeIdentityMatch(run: Run): boolean {
  const { quote } = run;
  const qe = run.prep.qe;
  const wantId = quote.tee === 'tdx' ? 'TD_QE' : 'QE';
  const idErr =
    qe.id !== wantId
      ? `QE identity id ${qe.id}, expected ${wantId}`
      : quote.tee === 'tdx' && qe.version < 2
        ? 'QE identity v1 cannot verify TDX'
        : checkQeIdentity(quote.qeReport, qe);
  return record(
    run,
    'qe.identity.match',
    idErr === undefined,
    idErr ?? `QE report matches ${qe.id} identity v${qe.version}`,
  );
}

/** Header ‖ body signed by the attestation key (4.1.2.4.16). */
function quoteSignature(run: Run): boolean {
  const { quote } = run;
  const attKey = attestationKeyObject(quote.attestationKey);
  const sigOk = attKey !== null && verifyP256(quote.signedData, quote.signature, attKey);
  return record(
    run,
    'quote.signature',
    sigOk,
    attKey ? 'quote signed by the attestation key' : 'attestation key is not a P-256 point',
  );
}

/** TCB level → status and advisories (4.1.2.4.17), merged with the QE and TDX module status (and TD relaunch). */
function tcbLevel(run: Run, ext: PckExtension): boolean {
  const ev = evaluateTcb(run.quote, ext, run.prep.tcb, run.prep.qe);
  run.result.tcbStatus = ev.status ?? null;
  run.result.advisoryIds = ev.advisoryIds;
  return record(run, 'tcb.level', ev.ok, ev.detail);
}

/** Verify a DCAP quote against its collateral. Never throws for a failed check (see `ok`/`checks`);
 * throws SealworkError for malformed input (QUOTE_MALFORMED, COLLATERAL_INVALID, …). */
export async function verifyQuote(params: VerifyQuoteParameters): Promise<VerificationResult> {
  return verifyQuoteSync(params);
}
