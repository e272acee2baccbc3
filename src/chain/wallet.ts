/**
 * Wallets: encrypted Ethereum keystores (Web3 Secret Storage V3: scrypt + aes-128-ctr, MAC =
 * keccak256(derivedKey[16..32] ‖ ciphertext)), built on node:crypto and viem's keccak. Also the
 * named anvil dev accounts for demos on the embedded chain.
 */
import {
  createCipheriv,
  createDecipheriv,
  pbkdf2Sync,
  randomBytes,
  randomUUID,
  scrypt,
  timingSafeEqual,
} from 'node:crypto';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { bytesToHex, keccak256, type Address, type Hex } from 'viem';
import {
  generatePrivateKey,
  mnemonicToAccount,
  privateKeyToAccount,
  type PrivateKeyAccount,
} from 'viem/accounts';
import { SealworkError, fsError } from '../errors.js';
import { writeFileAtomic } from '../util/atomic.js';

export interface KeystoreV3 {
  version: 3;
  id: string;
  address: string;
  crypto: {
    cipher: 'aes-128-ctr';
    ciphertext: string;
    cipherparams: { iv: string };
    kdf: 'scrypt' | 'pbkdf2';
    kdfparams: Record<string, number | string>;
    mac: string;
  };
}

/** scrypt cost used for new keystores (the V3 "standard" N = 2^18). */
export const KEYSTORE_SCRYPT_N = 262144;

function scryptAsync(
  password: string,
  salt: Buffer,
  n: number,
  r: number,
  p: number,
  dklen: number,
): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(
      password.normalize('NFKC'),
      salt,
      dklen,
      { N: n, r, p, maxmem: 256 * n * r + 1024 * 1024 },
      (e, k) => (e ? reject(e) : resolve(k)),
    ),
  );
}

function mac(derived: Buffer, ciphertext: Buffer): Buffer {
  return Buffer.from(keccak256(Buffer.concat([derived.subarray(16, 32), ciphertext])).slice(2), 'hex');
}

/** Encrypt a private key into a V3 keystore. `n` may be lowered for tests only. */
export async function encryptKeystore(
  privateKey: Hex,
  password: string,
  opts: { n?: number } = {},
): Promise<KeystoreV3> {
  const account = privateKeyToAccount(privateKey);
  const n = opts.n ?? KEYSTORE_SCRYPT_N;
  const salt = randomBytes(32);
  const iv = randomBytes(16);
  const derived = await scryptAsync(password, salt, n, 8, 1, 32);
  const cipher = createCipheriv('aes-128-ctr', derived.subarray(0, 16), iv);
  const ciphertext = Buffer.concat([cipher.update(Buffer.from(privateKey.slice(2), 'hex')), cipher.final()]);
  return {
    version: 3,
    id: randomUUID(),
    address: account.address.slice(2).toLowerCase(),
    crypto: {
      cipher: 'aes-128-ctr',
      ciphertext: ciphertext.toString('hex'),
      cipherparams: { iv: iv.toString('hex') },
      kdf: 'scrypt',
      kdfparams: { dklen: 32, salt: salt.toString('hex'), n, r: 8, p: 1 },
      mac: mac(derived, ciphertext).toString('hex'),
    },
  };
}

/** Decrypt a V3 keystore (scrypt or pbkdf2/hmac-sha256). Throws WALLET_PASSWORD_WRONG on a MAC mismatch. */
export async function decryptKeystore(keystore: unknown, password: string): Promise<Hex> {
  const ks = keystore as Partial<KeystoreV3>;
  const c = ks?.crypto ?? (ks as { Crypto?: KeystoreV3['crypto'] })?.Crypto;
  if (ks?.version !== 3 || !c || c.cipher !== 'aes-128-ctr')
    throw new SealworkError('KEYSTORE_INVALID', 'The file is not a V3 keystore (aes-128-ctr).', {
      hint: 'Use a keystore written by sealwork, geth, MetaMask or the iexec SDK.',
    });
  const kp = c.kdfparams;
  let derived: Buffer;
  try {
    const salt = Buffer.from(String(kp.salt), 'hex');
    if (c.kdf === 'scrypt') {
      derived = await scryptAsync(password, salt, Number(kp.n), Number(kp.r), Number(kp.p), Number(kp.dklen));
    } else if (c.kdf === 'pbkdf2' && kp.prf === 'hmac-sha256') {
      derived = pbkdf2Sync(password.normalize('NFKC'), salt, Number(kp.c), Number(kp.dklen), 'sha256');
    } else throw new Error(`unsupported kdf ${c.kdf}`);
  } catch (e) {
    throw new SealworkError('KEYSTORE_INVALID', 'The keystore parameters are invalid or unsupported.', {
      cause: e,
    });
  }
  const ciphertext = Buffer.from(c.ciphertext, 'hex');
  const expected = Buffer.from(c.mac, 'hex');
  const actual = mac(derived, ciphertext);
  if (expected.length !== actual.length || !timingSafeEqual(expected, actual))
    throw new SealworkError('WALLET_PASSWORD_WRONG', 'The wallet password is wrong.', {
      hint: 'Try again, or set SEALWORK_WALLET_PASSWORD to the right password.',
    });
  const decipher = createDecipheriv(
    'aes-128-ctr',
    derived.subarray(0, 16),
    Buffer.from(c.cipherparams.iv, 'hex'),
  );
  const key = Buffer.concat([decipher.update(ciphertext), decipher.final()]);
  return bytesToHex(key);
}

/** The default keystore path: `$SEALWORK_HOME/wallet/keystore.json`. */
export function keystorePath(home: string): string {
  return join(home, 'wallet', 'keystore.json');
}

export async function readKeystore(path: string): Promise<KeystoreV3 | undefined> {
  let text: string;
  try {
    text = await fs.readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw fsError(e, path, 'read keystore');
  }
  try {
    return JSON.parse(text) as KeystoreV3;
  } catch (e) {
    throw new SealworkError('KEYSTORE_INVALID', `${path} is not JSON.`, { cause: e });
  }
}

export async function writeKeystore(path: string, ks: KeystoreV3, force = false): Promise<void> {
  await writeFileAtomic(path, `${JSON.stringify(ks, null, 2)}\n`, { force, mode: 0o600 });
}

export function newPrivateKey(): Hex {
  return generatePrivateKey();
}

export function parsePrivateKey(value: string, source: string): Hex {
  const v = value.trim();
  const hex = (v.startsWith('0x') ? v : `0x${v}`) as Hex;
  if (!/^0x[0-9a-fA-F]{64}$/.test(hex))
    throw new SealworkError('PRIVATE_KEY_INVALID', `${source} is not a 32-byte hex private key.`, {
      hint: 'Give 64 hex digits (with or without 0x).',
    });
  return hex;
}

// ---------------------------------------------------------------- dev accounts

/** anvil's default mnemonic: its dev accounts are public test keys, for local chains only. */
export const ANVIL_MNEMONIC = 'test test test test test test test test test test test junk';

/** Named dev accounts on the embedded chain (anvil account index). */
export const DEV_ACCOUNT_NAMES = {
  deployer: 0,
  'app-dev': 1,
  'dataset-owner': 2,
  workerpool: 3,
  requester: 4,
  worker: 5,
  enclave: 6,
} as const;
export type DevAccountName = keyof typeof DEV_ACCOUNT_NAMES;

/** anvil's deterministic dev account `index` (from its default mnemonic). */
export function devAccount(index: number): { address: Address; privateKey: Hex } {
  const hd = mnemonicToAccount(ANVIL_MNEMONIC, { addressIndex: index });
  const pk = hd.getHdKey().privateKey;
  if (!pk) throw new Error('no private key');
  return { address: hd.address, privateKey: bytesToHex(pk) };
}

export function devAccountByName(name: string): PrivateKeyAccount {
  if (!(name in DEV_ACCOUNT_NAMES))
    throw new SealworkError('DEV_ACCOUNT_UNKNOWN', `There is no dev account named "${name}".`, {
      hint: `Use one of: ${Object.keys(DEV_ACCOUNT_NAMES).join(', ')}.`,
    });
  return privateKeyToAccount(devAccount(DEV_ACCOUNT_NAMES[name as DevAccountName]).privateKey);
}
