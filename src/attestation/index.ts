/**
 * Attestation: parse and verify Intel DCAP quotes (SGX v3/v4, TDX v4/v5), evaluate policies,
 * and a simulated quoting platform. This is the public surface other domains use.
 */
import type { Collateral } from './collateral.js';
import { evaluatePolicy, type Policy, type PolicyInput, type Verdict } from './policy.js';
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
export type { FetchPccsCollateralParameters } from './pccs.js';
export type { SimPlatform, SimQuoteParameters } from './sim.js';

export interface AttestParameters {
  quote: Uint8Array | Quote;
  collateral: Collateral;
  policy: Policy | PolicyInput;
  at?: Date;
  /** The simulation root (from openSimPlatform(...).trustedRoot); trusted only when given. */
  simulationRoot?: TrustedRoot;
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
  return { result, verdict: evaluatePolicy(result, p.policy) };
}

/** Verify a quote and evaluate a policy on it: `verdict.allowed` is the answer. */
export async function attest(p: AttestParameters): Promise<AttestResult> {
  return attestSync(p);
}
