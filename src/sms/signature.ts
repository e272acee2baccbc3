/**
 * The SMS's signature checks: who signed a 32-byte challenge (EIP-191, `personal_sign`), and the
 * hot-path check that a known signer signed it. The challenges themselves are protocol rules
 * (src/protocol/challenges.ts, src/protocol/authorization.ts).
 */
import { createRequire } from 'node:module';
import { secp256k1 } from '@noble/curves/secp256k1';
import {
  hashMessage,
  hexToBytes,
  recoverMessageAddress,
  recoverPublicKey,
  type Address,
  type Hex,
} from 'viem';
import { publicKeyToAddress } from 'viem/accounts';

/** Recover the EIP-191 signer of a 32-byte hash; undefined when the signature is malformed. */
export async function recoverChallengeSigner(
  challenge: Hex,
  signature: string,
): Promise<Address | undefined> {
  const sig = signature.trim();
  if (!/^0x[0-9a-fA-F]{130}$/.test(sig)) return undefined;
  try {
    return await recoverMessageAddress({ message: { raw: challenge }, signature: sig as Hex });
  } catch {
    return undefined;
  }
}

/**
 * libsecp256k1 (bitcoin-core's C library, prebuilt inside the `secp256k1` npm package) for the
 * hot-path ECDSA verification; where its native binding cannot load, @noble/curves does the same
 * check (slower). The package's own pure-JS fallback (elliptic) is deliberately not used.
 */
interface NativeSecp256k1 {
  ecdsaVerify(sig: Uint8Array, msg32: Uint8Array, pub: Uint8Array): boolean;
  signatureNormalize(sig: Uint8Array): Uint8Array;
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

function verifyEcdsa(compactSig: Uint8Array, digest: Uint8Array, pub: Uint8Array): boolean {
  try {
    if (native) {
      // libsecp256k1 accepts only low-S; ecrecover accepts both, so normalize first.
      return native.ecdsaVerify(native.signatureNormalize(compactSig), digest, pub);
    }
    return secp256k1.verify(compactSig, digest, pub, { lowS: false, prehash: false });
  } catch {
    return false;
  }
}

/** Public keys (uncompressed bytes) of recently seen expected signers (workerpool owners). */
const signerKeys = new Map<string, Uint8Array>();
const MAX_SIGNER_KEYS = 16;

/**
 * Is `signature` the EIP-191 signature of the 32-byte `challenge` by `expected`? Same answer as
 * recovering the signer and comparing. Once a signer's public key is known (first successful
 * recovery), later checks are a plain ECDSA verification against that key (libsecp256k1, else
 * @noble/curves), much cheaper than recovery: the hot path of attested sessions, where the expected signer
 * is the workerpool owner. High-S signatures are accepted, as ecrecover accepts them.
 */
export async function isSignedBy(
  challenge: Hex,
  signature: string,
  expected: Address | string,
): Promise<boolean> {
  const sig = signature.trim();
  if (!/^0x[0-9a-fA-F]{130}$/.test(sig)) return false;
  const key = expected.toLowerCase();
  const digest = hashMessage({ raw: challenge });
  const known = signerKeys.get(key);
  if (known) return verifyEcdsa(hexToBytes(sig.slice(0, 130) as Hex), hexToBytes(digest), known);
  let pub: Hex;
  try {
    pub = await recoverPublicKey({ hash: digest, signature: sig as Hex });
  } catch {
    return false;
  }
  if (publicKeyToAddress(pub).toLowerCase() !== key) return false;
  if (signerKeys.size >= MAX_SIGNER_KEYS) signerKeys.delete(signerKeys.keys().next().value as string);
  signerKeys.set(key, hexToBytes(pub));
  return true;
}
