/**
 * The iExec SMS challenge formulas, exactly (iexec-sms `AuthorizationService`, iexec SDK
 * `common/sms/push.js`). `‖` is byte concatenation; addresses are their 20 bytes (case does not
 * matter); strings are hashed as UTF-8. The Authorization header carries the EIP-191
 * (`personal_sign`) signature of the 32-byte challenge, i.e. of `"\x19Ethereum Signed Message:\n32" ‖ challenge`.
 */
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { secp256k1 } from '@noble/curves/secp256k1';
import {
  concatHex,
  hashMessage,
  hexToBytes,
  keccak256,
  recoverMessageAddress,
  recoverPublicKey,
  stringToHex,
  type Address,
  type Hex,
} from 'viem';
import { publicKeyToAddress } from 'viem/accounts';

export const SMS_DOMAIN_STRING = 'IEXEC_SMS_DOMAIN';
/** `keccak256(utf8("IEXEC_SMS_DOMAIN"))`. */
export const SMS_DOMAIN: Hex = keccak256(stringToHex(SMS_DOMAIN_STRING));

/** The web2 secret name iExec reserves for the beneficiary's result-encryption public key. */
export const RESULT_ENCRYPTION_KEY_NAME = 'iexec-result-encryption-public-key';
/** The key string the iExec SDK puts in the app developer secret challenge. */
export const APP_DEVELOPER_SECRET_KEY = '1';
/** Our key string for an app's file-system key (encrypted FSPF regions): an app secret of its own. */
export const APP_FS_KEY_NAME = 'sealwork-fs-key';
/** Requester secret names, as iexec-sms validates them (`^[\p{Alnum}-_]{1,64}$`, ASCII). */
export const REQUESTER_SECRET_NAME = /^[A-Za-z0-9_-]{1,64}$/;
/** Secret values over this many bytes are refused with 413 (iexec-sms: 4 Kb). */
export const MAX_SECRET_BYTES = 4096;

const hashUtf8 = (s: string): Hex => keccak256(stringToHex(s));
const addr = (a: string): Hex => a.toLowerCase() as Hex;

/** Dataset key push: `keccak256(DOMAIN ‖ A ‖ keccak256(secret))`. */
export function web3SecretChallenge(secretAddress: Address | string, secretValue: string): Hex {
  return keccak256(concatHex([SMS_DOMAIN, addr(secretAddress), hashUtf8(secretValue)]));
}

/** Web2 / requester / app secret push: `keccak256(DOMAIN ‖ O ‖ keccak256(name) ‖ keccak256(secret))`. */
export function web2SecretChallenge(owner: Address | string, secretName: string, secretValue: string): Hex {
  return keccak256(concatHex([SMS_DOMAIN, addr(owner), hashUtf8(secretName), hashUtf8(secretValue)]));
}

/** App developer secret: the web2 formula with the app address and key `"1"`. */
export function appSecretChallenge(
  app: Address | string,
  secretValue: string,
  key = APP_DEVELOPER_SECRET_KEY,
): Hex {
  return web2SecretChallenge(app, key, secretValue);
}

/** Requester secret: the web2 formula with the requester address and the secret name. */
export function requesterSecretChallenge(
  requester: Address | string,
  name: string,
  secretValue: string,
): Hex {
  return web2SecretChallenge(requester, name, secretValue);
}

/**
 * Workerpool authorization hash (PoCo / iexec-sms `getChallengeForWorker`):
 * `keccak256(workerWallet ‖ taskId ‖ enclaveChallenge)`.
 */
export function workerpoolAuthorizationHash(p: {
  workerWallet: Address | string;
  chainTaskId: Hex;
  enclaveChallenge: Address | string;
}): Hex {
  return keccak256(
    concatHex([addr(p.workerWallet), p.chainTaskId.toLowerCase() as Hex, addr(p.enclaveChallenge)]),
  );
}

/**
 * Enclave challenge request (iexec-sms 8.5.1+): the workerpool authorization with empty worker and
 * enclave, i.e. `keccak256(taskId)`, signed EIP-191 by the workerpool owner.
 */
export function teeChallengeRequestHash(chainTaskId: Hex): Hex {
  return keccak256(chainTaskId.toLowerCase() as Hex);
}

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

/** `sha256(publicKey ‖ nonce)`: what REPORTDATA[0:32] must hold for an attested session. */
export function sessionBinding(publicKeyBytes: Uint8Array, nonce: Hex | Uint8Array): Buffer {
  const n = typeof nonce === 'string' ? hexToBytes(nonce) : nonce;
  return createHash('sha256').update(publicKeyBytes).update(n).digest();
}
