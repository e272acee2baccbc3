/**
 * The SMS's AttestationVerifier over the attestation module: DCAP verification of the quote with
 * its collateral, then the SMS policy (`--policy`: TCB statuses, advisories, debug, simulation).
 * The enclave identity the policy pins is the app's, so when the SMS policy names no enclave the
 * quote's own MRENCLAVE is put in for the policy step; the release then compares it with the app's
 * on-chain fingerprint (MRENCLAVE_MISMATCH).
 */
import { createHash } from 'node:crypto';
import {
  evaluatePolicy,
  parseCollateral,
  parsePolicy,
  verifyQuoteSync,
  type Collateral,
  type Policy,
  type PolicyInput,
  type TrustedRoot,
} from '../attestation/index.js';
import type { AttestationVerifier, QuoteVerdict } from './verifier.js';

/** The SMS default policy: production enclaves, up-to-date TCB, no simulation. */
export const DEFAULT_SMS_POLICY: Omit<PolicyInput, 'mrenclave'> = {
  allowDebug: false,
  acceptedTcbStatuses: ['UpToDate'],
  allowSimulation: false,
};

export interface AttestationVerifierOptions {
  /** The SMS policy (mrenclave may be omitted: the app's fingerprint pins it). */
  policy?: Omit<PolicyInput, 'mrenclave'> & { mrenclave?: string | string[] };
  /** The simulated platform's root (`openSimPlatform(home).trustedRoot`); trusted as a root, accepted only if the policy allows simulation. */
  simulationRoot?: TrustedRoot;
  /**
   * Extra trust anchors for real (non-simulated) quotes besides the pinned Intel SGX Root CA, e.g.
   * Intel's QVL test root in tests.
   */
  trustedRoots?: TrustedRoot[];
  /** Verification time (default now): a pinned clock lets recorded quotes be checked with their collateral. */
  at?: () => Date;
}

const PLACEHOLDER = '0'.repeat(64);

/** Validate the SMS policy once (throws POLICY_INVALID). */
export function parseSmsPolicy(input: unknown): Policy {
  const o = (input && typeof input === 'object' ? input : {}) as Record<string, unknown>;
  return parsePolicy({ ...o, mrenclave: o.mrenclave ?? PLACEHOLDER });
}

export function createAttestationVerifier(opts: AttestationVerifierOptions = {}): AttestationVerifier {
  const input = { ...DEFAULT_SMS_POLICY, ...(opts.policy ?? {}) } as Record<string, unknown>;
  // An SMS policy that names MRSIGNER (and ISVPRODID) but no MRENCLAVE still has the app's
  // fingerprint pin the enclave: only a policy that lists MRENCLAVE values replaces it.
  const pinsEnclave = input.mrenclave !== undefined;
  const base = parseSmsPolicy(input);
  const perEnclave = new Map<string, Policy>();
  const policyFor = (mrenclave: string): Policy => {
    if (pinsEnclave) return base;
    let p = perEnclave.get(mrenclave);
    if (!p) {
      p = { ...base, mrenclave: [mrenclave] };
      if (perEnclave.size > 4096) perEnclave.clear();
      perEnclave.set(mrenclave, p);
    }
    return p;
  };
  const roots = [
    ...(opts.trustedRoots ?? []).map((r) => ({ ...r, simulated: false })),
    ...(opts.simulationRoot ? [opts.simulationRoot] : []),
  ];
  const collaterals = new Map<string, Collateral>();
  const collateralOf = (c: unknown): Collateral => {
    const key = createHash('sha256')
      .update(typeof c === 'string' ? c : JSON.stringify(c))
      .digest('hex');
    let parsed = collaterals.get(key);
    if (!parsed) {
      parsed = parseCollateral(c);
      if (collaterals.size > 256) collaterals.clear();
      collaterals.set(key, parsed);
    }
    return parsed;
  };

  return {
    async verify(quote: Uint8Array, collateral: unknown): Promise<QuoteVerdict> {
      let result;
      try {
        result = verifyQuoteSync({
          quote,
          collateral: collateralOf(collateral),
          trustedRoots: roots,
          ...(opts.at ? { at: opts.at() } : {}),
        });
      } catch (e) {
        return {
          ok: false,
          code: 'QUOTE_INVALID',
          reason: `The quote or its collateral cannot be parsed: ${(e as Error).message}`,
        };
      }
      const id = result.identity;
      const enclave = {
        mrenclave: id.tee === 'sgx' ? id.mrenclave : '',
        mrsigner: id.tee === 'sgx' ? id.mrsigner : '',
        debug: id.debug,
        reportData: Buffer.from(id.reportData, 'hex'),
        simulated: result.simulated,
        ...(result.tcbStatus ? { tcbStatus: result.tcbStatus } : {}),
      };
      if (!result.ok) {
        const failed = result.checks.find((c) => !c.ok);
        const untrusted = failed?.untrustedRoot === true;
        return {
          ok: false,
          code: untrusted ? 'QUOTE_ROOT_UNTRUSTED' : 'QUOTE_INVALID',
          reason: untrusted
            ? `The quote does not chain to a root this SMS trusts (${failed.detail}).`
            : `The quote does not verify${failed ? `: ${failed.name}: ${failed.detail}` : ''}.`,
          enclave,
        };
      }
      if (id.tee !== 'sgx')
        return {
          ok: false,
          code: 'POLICY_REFUSED',
          reason: 'Only SGX enclaves (SCONE apps) are released secrets.',
          enclave,
        };
      const verdict = evaluatePolicy(result, policyFor(id.mrenclave));
      if (!verdict.allowed) {
        const f = verdict.failed;
        return {
          ok: false,
          code: f?.claim === 'debug' ? 'ENCLAVE_DEBUG' : 'POLICY_REFUSED',
          reason: f ? `Policy refused (${f.claim}): ${f.reason}.` : 'Policy refused.',
          enclave,
        };
      }
      return { ok: true, enclave };
    },
  };
}
