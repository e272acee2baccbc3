/**
 * What the SMS needs from attestation, behind a small interface (implemented with the attestation
 * module in attestation-adapter.ts): verify a quote with its collateral against the SMS policy and
 * return the enclave identity, or a stable refusal code.
 */
export interface VerifiedEnclave {
  /** Lower-case hex, 64 characters, no 0x. */
  mrenclave: string;
  mrsigner: string;
  debug: boolean;
  /** The quote's 64 bytes of REPORTDATA. */
  reportData: Uint8Array;
  /** True when the quote chains to the simulation root (accepted only if the policy allows it). */
  simulated: boolean;
  tcbStatus?: string;
}

/** Refusal codes a verifier may return (stable). */
export type QuoteRefusalCode = 'QUOTE_INVALID' | 'QUOTE_ROOT_UNTRUSTED' | 'ENCLAVE_DEBUG' | 'POLICY_REFUSED';

export type QuoteVerdict =
  | { ok: true; enclave: VerifiedEnclave }
  | { ok: false; code: QuoteRefusalCode; reason: string; enclave?: Partial<VerifiedEnclave> };

export interface AttestationVerifier {
  verify(quote: Uint8Array, collateral: unknown): Promise<QuoteVerdict>;
}
