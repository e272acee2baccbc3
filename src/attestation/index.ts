/**
 * Attestation: parse and verify Intel DCAP quotes (SGX v3/v4, TDX v4/v5), evaluate policies,
 * and a simulated quoting platform. This is the public surface other domains use.
 */
import type { Collateral } from './collateral.js';
import { timingSafeEqual } from 'node:crypto';
import { evaluatePolicy, parsePolicy, type Policy, type PolicyInput, type Verdict } from './policy.js';
import type { SimPlatform, SimQuoteParameters } from './sim.js';
import type { Quote } from './quote.js';
import type { TrustedRoot } from './roots.js';
import { verifyQuoteSync, type VerificationResult } from './verify.js';

export { parseQuote, quoteBytesFrom, INTEL_QE_VENDOR_ID, TEE_TYPE_SGX, TEE_TYPE_TDX } from './quote.js';
export type { Quote, QuoteHeader, EnclaveReport, TdReport, CertificationData } from './quote.js';
export { verifyQuote, verifyQuoteSync, identityOf, clearVerificationCaches } from './verify.js';
export type {
  Check,
  QuoteIdentity,
  SgxIdentity,
  TdxIdentity,
  VerificationResult,
  VerifyQuoteParameters,
} from './verify.js';
export { parseCollateral, collateralToJson, ALL_TCB_STATUSES } from './collateral.js';
export type { Collateral, TcbStatus } from './collateral.js';
export { parsePolicy, evaluatePolicy, policySchema } from './policy.js';
export type { Policy, PolicyInput, PolicyClaim, Verdict } from './policy.js';
export { INTEL_SGX_ROOT, INTEL_SGX_ROOT_CA_PEM, INTEL_SGX_ROOT_CA_FINGERPRINT } from './roots.js';
export type { TrustedRoot } from './roots.js';
export { openSimPlatform, SIM_QE_MRSIGNER } from './sim.js';
export { fetchPccsCollateral } from './pccs.js';
export {
  buildRatlsCertificate,
  collateralDigest,
  ratlsReportData,
  readRatlsCertificate,
  spkiOf,
  RATLS_COLLATERAL_DIGEST_OID,
  RATLS_QUOTE_OID,
} from './ratls.js';
export type { RatlsCertificateContent, RatlsCertificateSpec } from './ratls.js';
export type { FetchPccsCollateralParameters } from './pccs.js';
export type { SimPlatform, SimQuoteParameters } from './sim.js';

export interface AttestParameters {
  quote: Uint8Array | Quote;
  collateral: Collateral;
  policy: Policy | PolicyInput;
  at?: Date;
  /** The simulation root (from openSimPlatform(...).trustedRoot); trusted only when given. */
  simulationRoot?: TrustedRoot;
  /**
   * Expected REPORTDATA (1–64 bytes): the quote's report data must start with these bytes
   * (e.g. a 32-byte hash of the enclave's session key); compared in constant time and listed as
   * the `reportData` claim of the verdict.
   */
  expectedReportData?: Uint8Array;
}

export interface AttestResult {
  result: VerificationResult;
  verdict: Verdict;
}

/** Synchronous attest (verify + evaluate); the hot path of secret release. */
export function attestSync(p: AttestParameters): AttestResult {
  const result = verifyQuoteSync({
    quote: p.quote,
    collateral: p.collateral,
    at: p.at,
    trustedRoots: p.simulationRoot ? [p.simulationRoot] : [],
  });
  const verdict = evaluatePolicy(result, p.policy);
  if (p.expectedReportData !== undefined) addReportDataClaim(verdict, result, p.expectedReportData);
  return { result, verdict };
}

function addReportDataClaim(verdict: Verdict, result: VerificationResult, expected: Uint8Array): void {
  const found = Buffer.from(result.identity.reportData, 'hex');
  const ok =
    expected.length >= 1 &&
    expected.length <= 64 &&
    timingSafeEqual(found.subarray(0, expected.length), Buffer.from(expected));
  const claim = {
    claim: 'reportData',
    ok,
    expected: Buffer.from(expected).toString('hex'),
    found: result.identity.reportData,
    reason: ok ? 'REPORTDATA binds the expected value' : 'REPORTDATA does not start with the expected value',
  };
  verdict.claims.push(claim);
  if (!ok) {
    verdict.allowed = false;
    verdict.failed ??= claim;
  }
}

/** MarbleRun-style issuer: produces quotes binding report data (here: the simulated platform). */
export interface Issuer {
  issue(reportData: Uint8Array): Promise<{ quote: Uint8Array; collateral: Collateral }>;
}

/** MarbleRun-style validator: accepts a quote (and its collateral) bound to expected report data. */
export interface Validator {
  validate(p: {
    quote: Uint8Array;
    collateral: Collateral;
    reportData?: Uint8Array;
    at?: Date;
  }): Promise<AttestResult>;
}

/** An Issuer for one enclave identity on the simulated platform. */
export function simIssuer(sim: SimPlatform, enclave: Omit<SimQuoteParameters, 'reportData'>): Issuer {
  return { issue: (reportData) => sim.quote({ ...enclave, reportData }) };
}

/** A Validator applying a policy (and, if given, trusting a simulation root). */
export function policyValidator(p: {
  policy: Policy | PolicyInput;
  simulationRoot?: TrustedRoot;
}): Validator {
  const policy = parsePolicy(p.policy);
  return {
    validate: async (v) =>
      attestSync({
        quote: v.quote,
        collateral: v.collateral,
        policy,
        at: v.at,
        simulationRoot: p.simulationRoot,
        expectedReportData: v.reportData,
      }),
  };
}

/** Verify a quote and evaluate a policy on it: `verdict.allowed` is the answer. */
export async function attest(p: AttestParameters): Promise<AttestResult> {
  return attestSync(p);
}
