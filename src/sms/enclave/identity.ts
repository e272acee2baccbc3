/**
 * The SMS's enclave identity, as an SGX enclave's REPORT carries it: MRENCLAVE (the measurement of
 * its code, runtime and configuration), MRSIGNER (sha256 of the signer's public key, as SGX's is
 * the hash of the SIGSTRUCT modulus), ISVPRODID and ISVSVN (the signer's product id and security
 * version). The enclave learns it from its launcher (the simulation of EREPORT); D2's RA-TLS quote
 * and E's receipts carry it. Everything is simulated: `simulated: true` always.
 */

/** What an SMS enclave is, as its quote reports it (64-hex strings, no 0x). */
export interface SmsEnclaveIdentity {
  mrEnclave: string;
  mrSigner: string;
  isvProdId: number;
  isvSvn: number;
  simulated: true;
}

/** The SMS's product id (ISVPRODID): one product, the sealwork SMS. */
export const SMS_ISV_PRODID = 1;
/**
 * The SMS's security version (ISVSVN), raised with every release that fixes a security flaw: the
 * signer policy lets a version unseal what the same or an older version sealed, never newer.
 */
export const SMS_ISV_SVN = 1;

/** The configuration measured with the code: everything that changes what the SMS does (no secrets). */
export interface SmsEnclaveConfig {
  chainId: number;
  /** The hub the SMS reads tasks and deals from (lower-case 0x address). */
  hub: string;
  db: 'sqlite' | 'postgres';
  /** The attestation policy applied to workers' enclaves (normalized, keys sorted). */
  policy: Record<string, unknown>;
  /** How the master key is sealed (SGX KEYPOLICY). */
  sealPolicy: SealPolicy;
  /** sha256 (hex) of the recovery public key's SubjectPublicKeyInfo, or null (no recovery). */
  recoveryKey: string | null;
  /** TLS: generated inside the SMS, operator-supplied certificate and key, or none (plain HTTP). */
  tls: 'generated' | 'operator' | 'none';
}

/** SGX KEYPOLICY: bind a sealing key to MRENCLAVE (exact code) or to MRSIGNER + ISVPRODID (+ ISVSVN ≤ own). */
export type SealPolicy = 'mrenclave' | 'mrsigner';
export const SEAL_POLICIES: readonly SealPolicy[] = ['mrenclave', 'mrsigner'];

export interface MeasuredFile {
  /** Path inside the enclave's file system (e.g. `sms.mjs`, `node_modules/bindings/bindings.js`). */
  path: string;
  sha256: string;
  size: number;
}

export interface MeasuredPackage {
  name: string;
  version: string;
  /** Number of files measured. */
  files: number;
  /** sha256 over the sorted lines `path NUL sha256 LF` of its files. */
  sha256: string;
}

/** What was measured, in the order MRENCLAVE hashes it (canonical JSON, keys sorted). */
export interface SmsManifest {
  format: 1;
  code: {
    /** The esbuild bundle of src/sms/enclave/main.ts (every sealwork module and pure-JS dependency). */
    bundle: MeasuredFile;
    /** Packages the bundle loads from node_modules at run time (native addons and their loaders). */
    packages: MeasuredPackage[];
  };
  runtime: {
    node: { path: string; version: string; sha256: string; size: number };
    /** The shared libraries the node binary loads (ldd), by path. */
    libraries: MeasuredFile[];
  };
  config: SmsEnclaveConfig;
}

/** The SIGSTRUCT of the simulation: the signer's signature over MRENCLAVE, ISVPRODID and ISVSVN. */
export interface SmsSigStruct {
  /** The signer's public key (SubjectPublicKeyInfo, PEM). MRSIGNER = sha256 of its DER. */
  signerPublicKey: string;
  /** Ed25519 signature (base64) of `sigStructMessage(identity)`. */
  signature: string;
}

export interface SmsMeasurement extends SmsEnclaveIdentity {
  manifest: SmsManifest;
  sigStruct: SmsSigStruct;
}

/** The bytes the signer signs (and the launcher checks before launch, as EINIT does). */
export function sigStructMessage(i: Pick<SmsEnclaveIdentity, 'mrEnclave' | 'isvProdId' | 'isvSvn'>): Buffer {
  return Buffer.from(`sealwork-sms-sigstruct-v1\n${i.mrEnclave}\n${i.isvProdId}\n${i.isvSvn}\n`, 'utf8');
}

/** The identity part of a measurement (what a quote reports). */
export function identityOf(m: SmsEnclaveIdentity): SmsEnclaveIdentity {
  return {
    mrEnclave: m.mrEnclave,
    mrSigner: m.mrSigner,
    isvProdId: m.isvProdId,
    isvSvn: m.isvSvn,
    simulated: true,
  };
}

/** JSON with object keys sorted at every level (the measured form of the manifest). */
export function canonicalJson(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o)
    .filter((k) => o[k] !== undefined)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`)
    .join(',')}}`;
}
