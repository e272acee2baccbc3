/**
 * The enclave's ephemeral session key and the encrypted release (JWE, ECDH-ES + A256GCM, jose).
 *
 * The enclave generates a key pair (X25519 by default, or P-256), puts `sha256(publicKey ‖ nonce)` in
 * REPORTDATA[0:32] of its quote, and sends the public key as a JWK. `publicKey` bytes are the raw
 * public key: `0x04 ‖ x ‖ y` (65 bytes) for P-256, the 32-byte `x` for X25519.
 */
import {
  createCipheriv,
  createHash,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  randomBytes,
  type KeyObject,
} from 'node:crypto';
import { compactDecrypt } from 'jose';
import { SealworkError } from '../errors.js';
import { sessionBinding } from './formulas.js';
import type { Hex } from 'viem';

export type SessionPublicJwk =
  { kty: 'EC'; crv: 'P-256'; x: string; y: string } | { kty: 'OKP'; crv: 'X25519'; x: string };

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

/** `len32(x) ‖ x`, the Concat KDF field encoding (RFC 7518 §4.6.2). */
const lenPrefixed = (b: Buffer) => {
  const l = Buffer.alloc(4);
  l.writeUInt32BE(b.length);
  return Buffer.concat([l, b]);
};
/** Concat KDF OtherInfo suffix for ECDH-ES direct key agreement to A256GCM (no apu/apv): fixed. */
const A256GCM_OTHER_INFO = Buffer.concat([
  lenPrefixed(Buffer.from('A256GCM')),
  lenPrefixed(Buffer.alloc(0)),
  lenPrefixed(Buffer.alloc(0)),
  Buffer.from([0, 0, 1, 0]), // SuppPubInfo: keydatalen = 256 bits
]);
const ROUND_1 = Buffer.from([0, 0, 0, 1]);

/**
 * Encrypt a JSON payload to the enclave's session key: a compact JWE with `alg: ECDH-ES` (direct
 * key agreement, Concat KDF, RFC 7518 §4.6) and `enc: A256GCM`, computed synchronously with
 * node:crypto (an ephemeral key of the enclave key's curve, ECDH, SHA-256 KDF, AES-256-GCM).
 * Any JOSE library decrypts it (the tests and the worker use jose's `compactDecrypt`).
 */
export async function encryptToEnclave(
  payload: unknown,
  publicJwk: SessionPublicJwk,
  kid?: string,
): Promise<string> {
  sessionPublicKeyBytes(publicJwk); // validates the JWK (SESSION_KEY_INVALID)
  const x25519 = publicJwk.kty === 'OKP';
  const recipient = createPublicKey({
    key: x25519
      ? { kty: 'OKP', crv: 'X25519', x: publicJwk.x }
      : { kty: 'EC', crv: 'P-256', x: publicJwk.x, y: (publicJwk as { y: string }).y },
    format: 'jwk',
  });
  const eph = x25519 ? generateKeyPairSync('x25519') : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const e = eph.publicKey.export({ format: 'jwk' });
  const epk = x25519 ? { x: e.x, crv: 'X25519', kty: 'OKP' } : { x: e.x, y: e.y, crv: 'P-256', kty: 'EC' };
  const z = diffieHellman({ privateKey: eph.privateKey, publicKey: recipient });
  const cek = createHash('sha256').update(ROUND_1).update(z).update(A256GCM_OTHER_INFO).digest();
  z.fill(0);
  const header = Buffer.from(
    JSON.stringify({ alg: 'ECDH-ES', enc: 'A256GCM', cty: JWE_CTY, ...(kid ? { kid } : {}), epk }),
  ).toString('base64url');
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', cek, iv);
  cipher.setAAD(Buffer.from(header, 'ascii'));
  const ct = Buffer.concat([cipher.update(JSON.stringify(payload), 'utf8'), cipher.final()]);
  cek.fill(0);
  return `${header}..${iv.toString('base64url')}.${ct.toString('base64url')}.${cipher.getAuthTag().toString('base64url')}`;
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
