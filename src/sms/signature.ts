/**
 * The SMS's signature checks: who signed a 32-byte challenge (EIP-191, `personal_sign`), and the
 * hot-path check that a known signer signed it. The challenges themselves are protocol rules
 * (src/protocol/challenges.ts, src/protocol/authorization.ts).
 *
 * The SMS accepts exactly the signatures the chain accepts (OpenZeppelin's ECDSA, which the hub's
 * `SignatureChecker` uses for the same authorizations): 65 bytes `r ‖ s ‖ v`, `0 < r < n`,
 * `0 < s ≤ n/2` (low-S only: no malleable twin) and `v` 27 or 28 (not 0/1, and `v` is checked,
 * not ignored). So one signer has exactly one accepted signature per challenge, which the
 * replay check of secret pushes relies on.
 */
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { secp256k1 } from '@noble/curves/secp256k1';
import { bytesToHex, hashMessage, hexToBytes, type Address, type Hex } from 'viem';
import { publicKeyToAddress } from 'viem/accounts';

const N = secp256k1.CURVE.n;
const HALF_N = N >> 1n;

/** A signature in the one form the chain accepts. */
export interface ChainSignature {
  /** r ‖ s (64 bytes). */
  compact: Uint8Array;
  /** v - 27. */
  recovery: 0 | 1;
  /** The 65 bytes r ‖ s ‖ v. */
  bytes: Uint8Array;
}

/**
 * Parse a 0x-hex signature as OpenZeppelin's `ECDSA.tryRecover` accepts it: 65 bytes, r and s in
 * range, s in the lower half of the order, v 27 or 28. Undefined for anything else.
 */
export function chainSignature(signature: string): ChainSignature | undefined {
  const sig = signature.trim();
  if (!/^0x[0-9a-fA-F]{130}$/.test(sig)) return undefined;
  const bytes = hexToBytes(sig as Hex);
  const r = BigInt(bytesToHex(bytes.subarray(0, 32)));
  const s = BigInt(bytesToHex(bytes.subarray(32, 64)));
  const v = bytes[64]!;
  if (r === 0n || r >= N || s === 0n || s > HALF_N) return undefined;
  if (v !== 27 && v !== 28) return undefined;
  return { compact: bytes.slice(0, 64), recovery: v === 27 ? 0 : 1, bytes };
}

/**
 * A fingerprint of an accepted signature, for the replay check of secret pushes: sha256 of its
 * canonical 65 bytes (hex case and surrounding spaces do not make another signature).
 */
export function signatureFingerprint(sig: ChainSignature): string {
  return createHash('sha256').update(sig.bytes).digest('hex');
}

/**
 * libsecp256k1 (bitcoin-core's C library, prebuilt inside the `secp256k1` npm package) for the
 * hot-path recovery; where its native binding cannot load, @noble/curves does the same (slower).
 * The package's own pure-JS fallback (elliptic) is deliberately not used.
 */
interface NativeSecp256k1 {
  ecdsaRecover(sig: Uint8Array, recid: number, msg32: Uint8Array, compressed?: boolean): Uint8Array;
}
const native: NativeSecp256k1 | undefined = (() => {
  try {
    return createRequire(import.meta.url)('secp256k1/bindings') as NativeSecp256k1;
  } catch {
    return undefined;
  }
})();

/** Whether the hot-path signature check runs on libsecp256k1 (true wherever its prebuilt binding loads). */
export const nativeSecp256k1 = native !== undefined;

/** The uncompressed public key (65 bytes) that signed `digest`, with the recovery id `v` names. */
function recoverKey(sig: ChainSignature, digest: Uint8Array): Uint8Array | undefined {
  try {
    if (native) return native.ecdsaRecover(sig.compact, sig.recovery, digest, false);
    return secp256k1.Signature.fromCompact(sig.compact)
      .addRecoveryBit(sig.recovery)
      .recoverPublicKey(digest)
      .toRawBytes(false);
  } catch {
    return undefined;
  }
}

/** The EIP-191 signer of a parsed signature over a 32-byte hash; undefined when none. */
export function recoverSigner(challenge: Hex, sig: ChainSignature): Address | undefined {
  const pub = recoverKey(sig, hexToBytes(hashMessage({ raw: challenge })));
  return pub && publicKeyToAddress(bytesToHex(pub));
}

/**
 * Recover the EIP-191 signer of a 32-byte hash; undefined when the signature is malformed or not
 * in the form the chain accepts (high-S, v other than 27/28).
 */
export async function recoverChallengeSigner(
  challenge: Hex,
  signature: string,
): Promise<Address | undefined> {
  const sig = chainSignature(signature);
  return sig && recoverSigner(challenge, sig);
}

/**
 * Is `signature` the EIP-191 signature of the 32-byte `challenge` by `expected`, as the chain
 * would accept it? Recovery with the recovery id `v` gives (libsecp256k1, else @noble/curves)
 * the one signer the chain would recover, compared to `expected`.
 */
export async function isSignedBy(
  challenge: Hex,
  signature: string,
  expected: Address | string,
): Promise<boolean> {
  const signer = await recoverChallengeSigner(challenge, signature);
  return signer !== undefined && signer.toLowerCase() === expected.toLowerCase();
}
