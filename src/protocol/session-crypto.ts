/**
 * The enclave's ephemeral session key and the encrypted release (JWE, ECDH-ES + A256GCM, jose).
 *
 * The enclave generates a key pair (X25519 by default, or P-256), puts `sha256(publicKey ‖ nonce)` in
 * REPORTDATA[0:32] of its quote, and sends the public key as a JWK. `publicKey` bytes are the raw
 * public key: `0x04 ‖ x ‖ y` (65 bytes) for P-256, the 32-byte `x` for X25519.
 */
import { createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { CompactEncrypt, compactDecrypt } from 'jose';
import { SealworkError } from '../errors.js';
import type { Hex } from 'viem';
import { sessionBinding, type SessionPublicJwk } from './session.js';

const b64u = (s: string) => Buffer.from(s, 'base64url');

/** Raw public key bytes of a session JWK; throws SESSION_KEY_INVALID when malformed. */
export function sessionPublicKeyBytes(jwk: unknown): Buffer {
  const j = jwk as Record<string, unknown> | null;
  const bad = () =>
    new SealworkError('SESSION_KEY_INVALID', 'The enclave public key is not a P-256 or X25519 public JWK.', {
      hint: 'Send {kty:"EC",crv:"P-256",x,y} or {kty:"OKP",crv:"X25519",x} without a private part.',
    });
  if (!j || typeof j !== 'object' || 'd' in j) throw bad();
  if (j.kty === 'EC' && j.crv === 'P-256' && typeof j.x === 'string' && typeof j.y === 'string') {
    const x = b64u(j.x);
    const y = b64u(j.y);
    if (x.length !== 32 || y.length !== 32) throw bad();
    return Buffer.concat([Buffer.from([4]), x, y]);
  }
  if (j.kty === 'OKP' && j.crv === 'X25519' && typeof j.x === 'string') {
    const x = b64u(j.x);
    if (x.length !== 32) throw bad();
    return x;
  }
  throw bad();
}

/** The 64 bytes of REPORTDATA an enclave must put in its quote: `sha256(publicKey ‖ nonce) ‖ 0³²`. */
export function sessionReportData(publicJwk: SessionPublicJwk, nonce: Hex): Buffer {
  return Buffer.concat([sessionBinding(sessionPublicKeyBytes(publicJwk), nonce), Buffer.alloc(32)]);
}

export interface SessionKeyPair {
  publicJwk: SessionPublicJwk;
  privateKey: KeyObject;
}

/** A fresh ephemeral session key pair (what the enclave does before asking for a quote). */
export function generateSessionKeyPair(curve: 'P-256' | 'X25519' = 'X25519'): SessionKeyPair {
  if (curve === 'X25519') {
    const { publicKey, privateKey } = generateKeyPairSync('x25519');
    const j = publicKey.export({ format: 'jwk' }) as { x: string };
    return { publicJwk: { kty: 'OKP', crv: 'X25519', x: j.x }, privateKey };
  }
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const j = publicKey.export({ format: 'jwk' }) as { x: string; y: string };
  return { publicJwk: { kty: 'EC', crv: 'P-256', x: j.x, y: j.y }, privateKey };
}

const JWE_CTY = 'application/vnd.sealwork.sms-session+json';

/**
 * Encrypt a JSON payload to the enclave's session key: a compact JWE with `alg: ECDH-ES` (direct
 * key agreement, Concat KDF) and `enc: A256GCM`, built by jose. The recipient key is imported
 * once with node:crypto (cheaper than a JWK import per call).
 */
export async function encryptToEnclave(
  payload: unknown,
  publicJwk: SessionPublicJwk,
  kid?: string,
): Promise<string> {
  sessionPublicKeyBytes(publicJwk); // validates the JWK (SESSION_KEY_INVALID)
  const recipient = createPublicKey({
    key:
      publicJwk.kty === 'OKP'
        ? { kty: 'OKP', crv: 'X25519', x: publicJwk.x }
        : { kty: 'EC', crv: 'P-256', x: publicJwk.x, y: publicJwk.y },
    format: 'jwk',
  });
  return new CompactEncrypt(Buffer.from(JSON.stringify(payload), 'utf8'))
    .setProtectedHeader({ alg: 'ECDH-ES', enc: 'A256GCM', cty: JWE_CTY, ...(kid ? { kid } : {}) })
    .encrypt(recipient);
}

/** Decrypt a session JWE with the enclave's private key (what the enclave does with the release). */
export async function decryptSessionJwe<T = unknown>(jwe: string, privateKey: KeyObject): Promise<T> {
  try {
    const { plaintext } = await compactDecrypt(jwe, privateKey, {
      keyManagementAlgorithms: ['ECDH-ES'],
      contentEncryptionAlgorithms: ['A256GCM'],
    });
    return JSON.parse(Buffer.from(plaintext).toString('utf8')) as T;
  } catch (e) {
    throw new SealworkError(
      'SESSION_DECRYPT_FAILED',
      'The SMS release does not decrypt with this enclave key.',
      {
        hint: 'Use the private key whose public key was sent with the session request.',
        cause: e,
      },
    );
  }
}
