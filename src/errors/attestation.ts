import { defineCodes } from './define.js';

/** DCAP quotes, collateral, certificates, policies and the simulated platform. */
export const ATTESTATION_CODES = defineCodes('attestation', {
  QUOTE_MALFORMED: 'The quote bytes do not parse as an SGX or TDX DCAP quote.',
  QUOTE_TRUNCATED: 'The quote ends before one of its structures does.',
  QUOTE_UNSUPPORTED: 'The quote has a version, TEE type or key type sealwork does not verify.',
  COLLATERAL_MISSING: 'No collateral (TCB info, QE identity, CRLs) was given for a quote.',
  COLLATERAL_INVALID: 'The collateral is not valid JSON or lacks a required part.',
  CERT_MALFORMED: 'A certificate of a chain cannot be parsed.',
  CRL_MALFORMED: 'A certificate revocation list cannot be parsed.',
  DER_MALFORMED: 'A DER structure (signature, extension) cannot be parsed.',
  PCK_EXTENSION_INVALID: 'The SGX extension of the PCK certificate is missing or malformed.',
  TRUSTED_ROOT_INVALID: 'A root given as trusted is not a valid certificate.',
  PCCS_ERROR: 'A request to the PCCS (collateral service) failed.',
  PCCS_UNSUPPORTED_QUOTE: 'Collateral cannot be fetched for a quote that carries no PCK certificate chain.',
  INVALID_TIME: 'The verification time is not a valid date.',
  POLICY_INVALID: 'The attestation policy is not valid JSON or has an invalid field.',
  QUOTE_NOT_VERIFIED: 'The quote did not verify (`attest verify`: a failed check, exit status 3).',
  POLICY_REFUSED: ['The quote verified but the attestation policy refuses it.', 403],
  SIM_INVALID_INPUT: 'An input of the simulated quote (MRENCLAVE, report data, SVN) is missing or malformed.',
  SIM_PLATFORM_CORRUPT: 'The simulated platform (its keys and certificates) on disk cannot be loaded.',
});
