/**
 * The release receipt: what the SMS signs each time it releases secrets to an enclave, so that a
 * requester can later check which enclave received the keys of a task, under which policy, from
 * which SMS. Pure: the type, its canonical encoding and the signature check (no I/O).
 *
 * Signed bytes = `utf8("sealwork-release-receipt-v1\n") ‖ canonicalJson(body)`, where canonicalJson
 * is RFC 8785 (JCS) for the JSON values a receipt holds: object keys sorted by UTF-16 code units,
 * no whitespace, ECMAScript number and string serialization. The signature algorithm follows the
 * SMS key: ES256 (P-256, IEEE P1363 r‖s), PS256 (RSA-PSS, SHA-256, 32-byte salt) or EdDSA
 * (Ed25519). The key is named in the body (`sms.publicKey`, SPKI DER base64), so a receipt checks
 * offline; what makes that key the genuine SMS's is the SMS evidence it carries (an RA-TLS
 * certificate whose quote binds the key), checked against a pinned SMS policy by the verifier.
 */
import { createHash, createPublicKey, sign, verify, X509Certificate, type KeyObject } from 'node:crypto';
import { constants } from 'node:crypto';
import type { Address, Hex } from 'viem';
import { z } from 'zod';

export const RECEIPT_TYPE = 'sealwork-release-receipt';
export const RECEIPT_VERSION = 1;
const SIGNING_PREFIX = 'sealwork-release-receipt-v1\n';

/** The SMS's evidence, as served by the attested SMS (same shape as sms-client's `SmsEvidence`). */
export interface ReceiptSmsEvidence {
  /** The SMS's TLS certificate (PEM); RA-TLS: it carries the quote. */
  certificate: string;
  /** The SMS's quote (hex); '' when the SMS is not attested. */
  quote: string;
  /** Its collateral, as src/attestation serializes it. */
  collateral: unknown;
  simulated: boolean;
}

export type ReceiptAlgorithm = 'ES256' | 'PS256' | 'EdDSA';

export interface ReleaseReceiptBody {
  type: typeof RECEIPT_TYPE;
  version: typeof RECEIPT_VERSION;
  task: {
    id: Hex;
    dealId: Hex;
    index: number;
    app: Address;
    /** null when the deal has no dataset. */
    dataset: Address | null;
    requester: Address;
    beneficiary: Address;
    /** The worker wallet the scheduler authorized. */
    worker: Address;
  };
  /** The task's enclave challenge address (the key that signs the result). */
  enclaveChallenge: Address;
  /** The enclave the secrets went to, as its quote said. */
  enclave: {
    mrenclave: string;
    mrsigner: string;
    tcbStatus: string;
    simulated: boolean;
    /** `0x` + sha256 of the quote bytes. */
    quoteHash: Hex;
  };
  /** The SMS policy applied: `0x` + sha256 of its canonical JSON, and the policy itself. */
  policy: { hash: Hex; summary: Record<string, unknown> };
  /** Names of the secrets released, never their values. */
  released: string[];
  /** ISO 8601 time of the release. */
  issuedAt: string;
  sms: {
    /** The signing key: SPKI DER, base64. */
    publicKey: string;
    /** The SMS's attestation evidence; null when the SMS had none to give. */
    evidence: ReceiptSmsEvidence | null;
  };
}

export interface ReleaseReceipt {
  body: ReleaseReceiptBody;
  signature: { alg: ReceiptAlgorithm; value: string };
}

// ------------------------------------------------------------------ canonical encoding

/** RFC 8785 (JCS) serialization of a JSON value (undefined object members are left out). */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError('canonicalJson: a number must be finite');
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v ?? null)).join(',')}]`;
  if (typeof value === 'object') {
    const o = value as Record<string, unknown>;
    const keys = Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`).join(',')}}`;
  }
  throw new TypeError(`canonicalJson: ${typeof value} is not a JSON value`);
}

/** `0x` + sha256 of a value's canonical JSON (the policy hash). */
export function canonicalHash(value: unknown): Hex {
  return `0x${createHash('sha256').update(canonicalJson(value)).digest('hex')}`;
}

/** The bytes the SMS signs. */
export function receiptSigningBytes(body: ReleaseReceiptBody): Buffer {
  return Buffer.from(SIGNING_PREFIX + canonicalJson(body), 'utf8');
}

/** `0x` + sha256 of a quote's bytes. */
export function quoteHash(quote: Uint8Array): Hex {
  return `0x${createHash('sha256').update(quote).digest('hex')}`;
}

/** A key's identifier: `0x` + sha256 of its SPKI DER. */
export function receiptKeyId(publicKeyBase64: string): Hex {
  return `0x${createHash('sha256').update(Buffer.from(publicKeyBase64, 'base64')).digest('hex')}`;
}

/** SPKI DER (base64) of a key (private or public). */
export function spkiBase64(key: KeyObject): string {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  return pub.export({ type: 'spki', format: 'der' }).toString('base64');
}

// ------------------------------------------------------------------ signing

function algorithmOf(key: KeyObject): ReceiptAlgorithm {
  const t = key.asymmetricKeyType;
  if (t === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return 'ES256';
  if (t === 'rsa' || t === 'rsa-pss') return 'PS256';
  if (t === 'ed25519') return 'EdDSA';
  throw new TypeError(`receipt keys are P-256, RSA or Ed25519, not ${t}`);
}

/** The key with the options of its algorithm (the same shape serves node's sign and verify). */
function keyOptions(
  alg: ReceiptAlgorithm,
  key: KeyObject,
): { key: KeyObject; dsaEncoding?: 'ieee-p1363'; padding?: number; saltLength?: number } | KeyObject {
  if (alg === 'ES256') return { key, dsaEncoding: 'ieee-p1363' };
  if (alg === 'PS256') return { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 };
  return key;
}

const digestOf = (alg: ReceiptAlgorithm) => (alg === 'EdDSA' ? null : 'sha256');

/** Sign a receipt body with the SMS key (the algorithm follows the key). */
export function signReceipt(body: ReleaseReceiptBody, privateKey: KeyObject): ReleaseReceipt {
  const alg = algorithmOf(privateKey);
  const value = sign(digestOf(alg), receiptSigningBytes(body), keyOptions(alg, privateKey));
  return { body, signature: { alg, value: value.toString('base64') } };
}

export interface ReceiptSignatureCheck {
  ok: boolean;
  /** `0x` + sha256 of the signing key's SPKI (when the key parses). */
  keyId: Hex | null;
  reason: string;
}

/**
 * Check a receipt's signature against the key it names (`body.sms.publicKey`), with the algorithm
 * that key's type dictates (the `alg` field must agree: no algorithm confusion).
 */
export function verifyReceiptSignature(receipt: ReleaseReceipt): ReceiptSignatureCheck {
  let key: KeyObject;
  try {
    key = createPublicKey({
      key: Buffer.from(receipt.body.sms.publicKey, 'base64'),
      format: 'der',
      type: 'spki',
    });
  } catch {
    return { ok: false, keyId: null, reason: 'the receipt names no valid public key' };
  }
  const keyId = receiptKeyId(receipt.body.sms.publicKey);
  let alg: ReceiptAlgorithm;
  try {
    alg = algorithmOf(key);
  } catch (e) {
    return { ok: false, keyId, reason: (e as Error).message };
  }
  if (alg !== receipt.signature.alg)
    return { ok: false, keyId, reason: `the signature says ${receipt.signature.alg}, the key is ${alg}` };
  let ok = false;
  try {
    ok = verify(
      digestOf(alg),
      receiptSigningBytes(receipt.body),
      keyOptions(alg, key),
      Buffer.from(receipt.signature.value, 'base64'),
    );
  } catch {
    ok = false;
  }
  return ok
    ? { ok, keyId, reason: `signed (${alg}) by key ${keyId}` }
    : { ok, keyId, reason: `the signature is not that of key ${keyId} over this receipt` };
}

/**
 * Whether the receipt's signing key is the public key of a certificate (PEM): the SMS's TLS
 * certificate, the one its evidence carries or the one a client pinned.
 */
export function receiptKeyMatchesCertificate(receipt: ReleaseReceipt, certificatePem: string): boolean {
  try {
    const certKey = new X509Certificate(certificatePem).publicKey;
    return spkiBase64(certKey) === receipt.body.sms.publicKey;
  } catch {
    return false;
  }
}

// ------------------------------------------------------------------ parsing

const hex = (n: number) => z.string().regex(new RegExp(`^0x[0-9a-fA-F]{${n}}$`));
const addr = hex(40).transform((a) => a as Address);
const hex32 = hex(64).transform((h) => h as Hex);

const ReceiptSchema = z.object({
  body: z.object({
    type: z.literal(RECEIPT_TYPE),
    version: z.literal(RECEIPT_VERSION),
    task: z.object({
      id: hex32,
      dealId: hex32,
      index: z.number().int().nonnegative(),
      app: addr,
      dataset: addr.nullable(),
      requester: addr,
      beneficiary: addr,
      worker: addr,
    }),
    enclaveChallenge: addr,
    enclave: z.object({
      mrenclave: z.string(),
      mrsigner: z.string(),
      tcbStatus: z.string(),
      simulated: z.boolean(),
      quoteHash: hex32,
    }),
    policy: z.object({ hash: hex32, summary: z.record(z.string(), z.unknown()) }),
    released: z.array(z.string()),
    issuedAt: z.string(),
    sms: z.object({
      publicKey: z.string().min(1),
      evidence: z
        .object({
          certificate: z.string(),
          quote: z.string(),
          collateral: z.unknown(),
          simulated: z.boolean(),
        })
        .nullable(),
    }),
  }),
  signature: z.object({ alg: z.enum(['ES256', 'PS256', 'EdDSA']), value: z.string().min(1) }),
});

/** A receipt from JSON (text or parsed), or the first thing wrong with it. */
export function parseReceipt(
  input: unknown,
): { ok: true; receipt: ReleaseReceipt } | { ok: false; reason: string } {
  let json = input;
  if (typeof input === 'string') {
    try {
      json = JSON.parse(input) as unknown;
    } catch {
      return { ok: false, reason: 'not JSON' };
    }
  }
  const r = ReceiptSchema.safeParse(json);
  if (r.success) {
    // Keep the parsed JSON as is (the signature covers its exact values).
    return { ok: true, receipt: json as ReleaseReceipt };
  }
  const issue = r.error.issues[0]!;
  return { ok: false, reason: `${issue.path.map(String).join('.') || 'receipt'}: ${issue.message}` };
}
