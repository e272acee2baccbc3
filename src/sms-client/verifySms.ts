/**
 * The client's check of the SMS (RA-TLS): its evidence (certificate with the quote in an X.509
 * extension, the quote, the collateral) is verified with src/attestation, the quote's REPORTDATA
 * must bind the certificate's key, and the SMS's identity must be one the pinned SMS policy names
 * (deny by default: no pin, no trust). With `tlsPublicKeySpki`, the key of the TLS connection
 * actually used must be that attested key, so a man in the middle with a certificate of its own
 * fails. Every check is listed in the verdict; the first failed one names the error code.
 */
import { timingSafeEqual } from 'node:crypto';
import {
  collateralDigest,
  parseCollateral,
  ratlsReportData,
  readRatlsCertificate,
  verifyQuoteSync,
  type Collateral,
  type RatlsCertificateContent,
  type TrustedRoot,
  type VerificationResult,
} from '../attestation/index.js';
import { SealworkError, type ErrorCode } from '../errors.js';

/** What the SMS serves at `GET /attestation` (and what receipts carry). */
export type SmsEvidence = {
  certificate: string /* PEM */;
  quote: string /* hex */;
  collateral: unknown /* collateralToJson */;
  simulated: boolean;
};

/** The SMS a client trusts: MrEnclave list and/or MrSigner list (each given list must match). */
export type SmsPinPolicy = {
  mrEnclave?: string[];
  mrSigner?: string[];
  /** Accept an SMS on the simulated platform (no hardware protection). Default false. */
  allowSimulation?: boolean;
  /** Accepted TCB statuses (default ["UpToDate"]). */
  acceptedTcb?: string[];
};

export type SmsCheckCode =
  'SMS_NOT_ATTESTED' | 'SMS_POLICY_MISMATCH' | 'SMS_KEY_NOT_BOUND' | 'SMS_NOT_PINNED';

export interface SmsCheck {
  name: string;
  ok: boolean;
  expected?: string;
  actual?: string;
  /** The error code a failure of this check is reported with. */
  code?: SmsCheckCode;
}

export type SmsVerdict = {
  ok: boolean;
  simulated: boolean;
  mrEnclave: string;
  mrSigner: string;
  tcbStatus: string;
  checks: SmsCheck[];
};

export interface VerifySmsOptions {
  now?: Date;
  /** Extra trust anchors (the simulation root); simulated ones only count when the pin allows simulation. */
  trustedRoots?: TrustedRoot[];
  /** SubjectPublicKeyInfo DER of the TLS peer of the connection that will carry the requests. */
  tlsPublicKeySpki?: Uint8Array;
}

const norm = (h: string) => h.trim().replace(/^0x/i, '').toLowerCase();
const HEX32 = /^[0-9a-f]{64}$/;

/** Check and normalize a pin (throws SMS_PIN_INVALID). */
export function normalizePin(p: SmsPinPolicy): SmsPinPolicy {
  const list = (v: string[] | undefined, what: string) => {
    if (!v?.length) return undefined;
    const out = v.map(norm);
    const bad = out.find((x) => !HEX32.test(x));
    if (bad !== undefined)
      throw new SealworkError('SMS_PIN_INVALID', `The pinned SMS ${what} "${bad}" is not 32 bytes of hex.`, {
        hint: `Give 64 hex digits (\`sealwork sms measure\` prints the SMS's ${what}).`,
      });
    return out;
  };
  const mrEnclave = list(p.mrEnclave, 'MrEnclave');
  const mrSigner = list(p.mrSigner, 'MrSigner');
  return {
    ...(mrEnclave ? { mrEnclave } : {}),
    ...(mrSigner ? { mrSigner } : {}),
    allowSimulation: p.allowSimulation === true,
    acceptedTcb: p.acceptedTcb?.length ? p.acceptedTcb : ['UpToDate'],
  };
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

interface Parsed {
  cert: RatlsCertificateContent;
  quote: Buffer;
  collateral: Collateral;
}

function parseEvidence(e: SmsEvidence): Parsed | string {
  try {
    if (!e || typeof e !== 'object') return 'no evidence';
    if (typeof e.quote !== 'string' || !/^(0x)?([0-9a-fA-F]{2})+$/.test(e.quote))
      return 'the quote is not hex';
    return {
      cert: readRatlsCertificate(e.certificate),
      quote: Buffer.from(norm(e.quote), 'hex'),
      collateral: parseCollateral(e.collateral),
    };
  } catch (err) {
    return (err as Error).message;
  }
}

/** The checks on the quote itself: consistency with the certificate, verification, platform. */
function quoteChecks(p: Parsed, pin: SmsPinPolicy, o: VerifySmsOptions): [SmsCheck[], VerificationResult] {
  const checks: SmsCheck[] = [];
  const inCert = p.cert.quote !== undefined && sameBytes(p.cert.quote, p.quote);
  checks.push({
    name: 'certificate carries the quote (RA-TLS extension)',
    ok: inCert,
    expected: 'the served quote',
    actual: p.cert.quote ? (inCert ? 'the served quote' : 'another quote') : 'no quote extension',
    code: 'SMS_NOT_ATTESTED',
  });
  const digest = collateralDigest(p.collateral);
  checks.push({
    name: 'certificate names the collateral (digest)',
    ok: p.cert.collateralDigest === digest,
    expected: digest,
    actual: p.cert.collateralDigest ?? 'no collateral digest extension',
    code: 'SMS_NOT_ATTESTED',
  });
  const roots = (o.trustedRoots ?? []).filter((r) => !r.simulated || pin.allowSimulation);
  const r = verifyQuoteSync({
    quote: p.quote,
    collateral: p.collateral,
    ...(o.now ? { at: o.now } : {}),
    trustedRoots: roots,
  });
  const failed = r.checks.find((c) => !c.ok);
  checks.push({
    name: 'quote verifies (DCAP: PCK chain, collateral, QE, signature)',
    ok: r.ok && r.tee === 'sgx',
    expected: `a valid SGX quote chaining to ${roots.length ? `Intel or ${roots.map((x) => x.name).join(', ')}` : 'the Intel SGX Root CA'}`,
    actual: r.ok ? `valid, anchored at ${r.root}` : `${failed?.name ?? 'failed'}: ${failed?.detail ?? ''}`,
    code: 'SMS_NOT_ATTESTED',
  });
  checks.push({
    name: 'platform',
    ok: !r.simulated || pin.allowSimulation === true,
    expected: pin.allowSimulation ? 'hardware or simulated (simulation allowed by the pin)' : 'hardware',
    actual: r.simulated ? 'simulated (no hardware protection)' : 'hardware',
    code: 'SMS_POLICY_MISMATCH',
  });
  const tcb = r.tcbStatus ?? 'unknown';
  checks.push({
    name: 'TCB status',
    ok: (pin.acceptedTcb ?? ['UpToDate']).includes(tcb),
    expected: (pin.acceptedTcb ?? ['UpToDate']).join(' | '),
    actual: tcb,
    code: 'SMS_POLICY_MISMATCH',
  });
  return [checks, r];
}

/** The checks of identity (the pin) and of the key binding. */
function bindingChecks(p: Parsed, r: VerificationResult, pin: SmsPinPolicy, o: VerifySmsOptions): SmsCheck[] {
  const checks: SmsCheck[] = [];
  const id = r.identity.tee === 'sgx' ? r.identity : undefined;
  checks.push({
    name: 'not a debug enclave',
    ok: id !== undefined && !id.debug,
    expected: 'production',
    actual: id?.debug ? 'debug' : 'production',
    code: 'SMS_POLICY_MISMATCH',
  });
  const pinned = Boolean(pin.mrEnclave?.length || pin.mrSigner?.length);
  checks.push({
    name: 'an SMS policy is pinned',
    ok: pinned,
    expected: 'a MrEnclave or MrSigner pin',
    actual: pinned ? 'pinned' : 'no pin (deny by default)',
    code: 'SMS_NOT_PINNED',
  });
  if (pin.mrEnclave?.length)
    checks.push({
      name: 'MrEnclave is pinned',
      ok: id !== undefined && pin.mrEnclave.includes(id.mrenclave),
      expected: pin.mrEnclave.join(' | '),
      actual: id?.mrenclave ?? '',
      code: 'SMS_POLICY_MISMATCH',
    });
  if (pin.mrSigner?.length)
    checks.push({
      name: 'MrSigner is pinned',
      ok: id !== undefined && pin.mrSigner.includes(id.mrsigner),
      expected: pin.mrSigner.join(' | '),
      actual: id?.mrsigner ?? '',
      code: 'SMS_POLICY_MISMATCH',
    });
  const expectedRd = ratlsReportData(p.cert.spki);
  const rd = Buffer.from(r.identity.reportData ?? '', 'hex');
  checks.push({
    name: "REPORTDATA binds the certificate's key",
    ok: sameBytes(rd, expectedRd),
    expected: expectedRd.toString('hex'),
    actual: rd.toString('hex'),
    code: 'SMS_KEY_NOT_BOUND',
  });
  if (o.tlsPublicKeySpki) {
    const ok = sameBytes(Buffer.from(o.tlsPublicKeySpki), p.cert.spki);
    checks.push({
      name: 'the TLS connection uses the attested key',
      ok,
      expected: `sha256(SPKI) ${expectedRd.subarray(0, 32).toString('hex')}`,
      actual: `sha256(SPKI) ${ratlsReportData(o.tlsPublicKeySpki).subarray(0, 32).toString('hex')}`,
      code: 'SMS_KEY_NOT_BOUND',
    });
  }
  return checks;
}

/** Verify the SMS's evidence against a pinned policy (and, if given, the connection's key). */
export function verifySmsEvidenceSync(
  evidence: SmsEvidence,
  policy: SmsPinPolicy,
  opts: VerifySmsOptions = {},
): SmsVerdict {
  const pin = normalizePin(policy);
  const p = parseEvidence(evidence);
  if (typeof p === 'string')
    return {
      ok: false,
      simulated: Boolean(evidence?.simulated),
      mrEnclave: '',
      mrSigner: '',
      tcbStatus: 'unknown',
      checks: [{ name: 'evidence is well-formed', ok: false, actual: p, code: 'SMS_NOT_ATTESTED' }],
    };
  const [qc, r] = quoteChecks(p, pin, opts);
  const checks = [...qc, ...bindingChecks(p, r, pin, opts)];
  const id = r.identity.tee === 'sgx' ? r.identity : undefined;
  return {
    ok: checks.every((c) => c.ok),
    simulated: r.simulated,
    mrEnclave: id?.mrenclave ?? '',
    mrSigner: id?.mrsigner ?? '',
    tcbStatus: r.tcbStatus ?? 'unknown',
    checks,
  };
}

export async function verifySmsEvidence(
  evidence: SmsEvidence,
  policy: SmsPinPolicy,
  opts: VerifySmsOptions = {},
): Promise<SmsVerdict> {
  return verifySmsEvidenceSync(evidence, policy, opts);
}

const HINTS: Record<SmsCheckCode, string> = {
  SMS_NOT_PINNED:
    'Pin the SMS you trust: --sms-mrenclave <hex> (or --sms-mrsigner <hex>), or SEALWORK_SMS_MRENCLAVE / SEALWORK_SMS_MRSIGNER; `sealwork sms measure` prints the value. The local SMS started by `sealwork sms start`/`sealwork dev` pins itself in its record (trust on first use).',
  SMS_POLICY_MISMATCH:
    'This SMS is not the one you pinned (or runs on a platform or TCB your pin refuses): compare `sealwork sms verify` with your pin; for the simulated platform add --sms-allow-simulation.',
  SMS_KEY_NOT_BOUND:
    "The TLS key of this connection is not the SMS enclave's: connect to the SMS directly, not through a TLS-intercepting proxy.",
  SMS_NOT_ATTESTED:
    'Connect to an attested SMS (`sealwork sms start` without --tls-cert serves attested TLS); an operator certificate or plain HTTP cannot be attested. `sealwork sms verify` shows each check.',
};

/** The SealworkError for a refused verdict: the first failed check's code, every check in details. */
export function smsVerdictError(v: SmsVerdict, url: string): SealworkError {
  const first = v.checks.find((c) => !c.ok);
  const code: ErrorCode = first?.code ?? 'SMS_NOT_ATTESTED';
  const what = first
    ? `${first.name}: expected ${first.expected ?? 'ok'}, found ${first.actual ?? 'not ok'}`
    : 'refused';
  return new SealworkError(
    code,
    `The SMS at ${url} failed the attestation check (${what}); nothing was sent to it.${v.simulated ? ' (simulated platform)' : ''}`,
    {
      hint: HINTS[code as SmsCheckCode] ?? HINTS.SMS_NOT_ATTESTED,
      details: { url, simulated: v.simulated, checks: v.checks },
    },
  );
}
