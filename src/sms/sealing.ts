/**
 * Sealed storage: every secret value is encrypted at rest with AES-256-GCM under the SMS master
 * key. Stored form: `IV (12) ‖ tag (16) ‖ ciphertext`. The row identity (kind, owner, name) is the
 * additional authenticated data, so a sealed value moved to another row does not open.
 */
import { createCipheriv, createDecipheriv, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { SealworkError, fsError } from '../errors.js';
import { writeFileAtomic } from '../util/atomic.js';

const IV_BYTES = 12;
const TAG_BYTES = 16;
export const MASTER_KEY_BYTES = 32;
export const MASTER_KEY_ENV = 'SEALWORK_SMS_MASTER_KEY';

export interface Sealer {
  seal(plaintext: Uint8Array | string, aad: string): Buffer;
  open(sealed: Uint8Array, aad: string): Buffer;
  /** A value identifying the master key without revealing it (HMAC of a fixed label). */
  readonly keyCheck: string;
}

export function createSealer(masterKey: Uint8Array): Sealer {
  if (masterKey.length !== MASTER_KEY_BYTES) throw new RangeError('master key must be 32 bytes');
  const key = Buffer.from(masterKey);
  return {
    keyCheck: createHmac('sha256', key).update('sealwork-sms-master-key-check-v1').digest('hex'),
    seal(plaintext, aad) {
      const iv = randomBytes(IV_BYTES);
      const c = createCipheriv('aes-256-gcm', key, iv);
      c.setAAD(Buffer.from(aad, 'utf8'));
      const ct = Buffer.concat([
        c.update(typeof plaintext === 'string' ? Buffer.from(plaintext, 'utf8') : plaintext),
        c.final(),
      ]);
      return Buffer.concat([iv, c.getAuthTag(), ct]);
    },
    open(sealed, aad) {
      const b = Buffer.from(sealed);
      if (b.length < IV_BYTES + TAG_BYTES)
        throw new SealworkError(
          'SMS_SEALED_VALUE_CORRUPT',
          'A sealed secret in the SMS database is truncated.',
          {
            hint: 'Restore the database from a backup.',
          },
        );
      const d = createDecipheriv('aes-256-gcm', key, b.subarray(0, IV_BYTES));
      d.setAAD(Buffer.from(aad, 'utf8'));
      d.setAuthTag(b.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
      try {
        return Buffer.concat([d.update(b.subarray(IV_BYTES + TAG_BYTES)), d.final()]);
      } catch (e) {
        throw new SealworkError(
          'SMS_SEALED_VALUE_CORRUPT',
          'A sealed secret in the SMS database does not authenticate under the master key.',
          { hint: 'The database or the master key was changed; restore them from a backup.', cause: e },
        );
      }
    },
  };
}

/** Constant-time equality of two strings (e.g. key-check values). */
export function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function parseMasterKeyText(text: string, source: string): Buffer {
  const t = text.trim();
  let bytes: Buffer | undefined;
  if (/^(0x)?[0-9a-fA-F]{64}$/.test(t)) bytes = Buffer.from(t.replace(/^0x/, ''), 'hex');
  else if (/^[A-Za-z0-9+/]{43}=$/.test(t)) bytes = Buffer.from(t, 'base64');
  if (!bytes || bytes.length !== MASTER_KEY_BYTES)
    throw new SealworkError(
      'SMS_MASTER_KEY_INVALID',
      `The SMS master key from ${source} is not 32 bytes (base64 or hex).`,
      {
        hint: 'Give 32 random bytes as base64 (44 characters) or hex (64 characters), e.g. `openssl rand -base64 32`.',
        details: { source },
      },
    );
  return bytes;
}

/**
 * Load the master key: `SEALWORK_SMS_MASTER_KEY` (base64 or hex of 32 bytes) if set, else the
 * 0600 file `<dir>/master.key`, generated on first start.
 */
export async function loadMasterKey(
  dir: string,
  env: Record<string, string | undefined> = process.env,
): Promise<{ key: Buffer; source: 'env' | 'file'; path?: string; created: boolean }> {
  const fromEnv = env[MASTER_KEY_ENV];
  if (fromEnv && fromEnv.length > 0)
    return { key: parseMasterKeyText(fromEnv, MASTER_KEY_ENV), source: 'env', created: false };
  const path = join(dir, 'master.key');
  try {
    const st = await fs.stat(path);
    if ((st.mode & 0o077) !== 0)
      throw new SealworkError(
        'SMS_MASTER_KEY_EXPOSED',
        `The SMS master key file ${path} is readable by other users.`,
        {
          hint: `Run: chmod 600 ${path}`,
          details: { path, mode: (st.mode & 0o777).toString(8) },
        },
      );
    const text = await fs.readFile(path, 'utf8');
    return { key: parseMasterKeyText(text, path), source: 'file', path, created: false };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') {
      if (e instanceof SealworkError) throw e;
      throw fsError(e, path, 'read the SMS master key');
    }
  }
  const key = randomBytes(MASTER_KEY_BYTES);
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  await writeFileAtomic(path, `${key.toString('base64')}\n`, { mode: 0o600 });
  return { key, source: 'file', path, created: true };
}
