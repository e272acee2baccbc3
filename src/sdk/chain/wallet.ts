/** Wallet management: an encrypted V3 keystore at $SEALWORK_HOME/wallet/keystore.json. */
import { promises as fs } from 'node:fs';
import { resolve } from 'node:path';
import { getAddress, type Address } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import {
  decryptKeystore,
  encryptKeystore,
  keystorePath,
  newPrivateKey,
  parsePrivateKey,
  readKeystore,
  writeKeystore,
} from '../../chain/wallet.js';
import { SealworkError, fsError } from '../../errors.js';
import { assertWritableTarget } from '../../util/atomic.js';
import { resolveHome } from '../../util/home.js';

export interface WalletParameters {
  home?: string;
  /** The new keystore's password (else SEALWORK_WALLET_PASSWORD). */
  password?: string;
  force?: boolean;
  /** scrypt N (tests only; default 2^18). */
  scryptN?: number;
}

function requirePassword(p: WalletParameters): string {
  const pw = p.password ?? process.env.SEALWORK_WALLET_PASSWORD;
  if (!pw)
    throw new SealworkError('WALLET_PASSWORD_REQUIRED', 'A password is needed to encrypt the wallet.', {
      hint: 'Run in a terminal to be prompted, or set SEALWORK_WALLET_PASSWORD.',
    });
  if (pw.length < 8)
    throw new SealworkError('WALLET_PASSWORD_WEAK', 'The wallet password is shorter than 8 characters.', {
      hint: 'Choose a longer password.',
    });
  return pw;
}

export interface WalletReturnType {
  address: Address;
  keystore: string;
}

/** Create a new random key and store it encrypted. Refuses to overwrite unless `force`. */
export async function createWallet(p: WalletParameters = {}): Promise<WalletReturnType> {
  const path = keystorePath(resolveHome(p.home));
  await assertWritableTarget(path, p.force ?? false);
  const ks = await encryptKeystore(newPrivateKey(), requirePassword(p), { n: p.scryptN });
  await writeKeystore(path, ks, p.force);
  return { address: getAddress(`0x${ks.address}`), keystore: path };
}

export interface ImportWalletParameters extends WalletParameters {
  /** A private key (hex), or */
  privateKey?: string;
  /** an existing V3 keystore file, with its password. */
  keystoreFile?: string;
  keystorePassword?: string;
}

/** Import a private key or an existing V3 keystore (re-encrypted with the new password). */
export async function importWallet(p: ImportWalletParameters): Promise<WalletReturnType> {
  const path = keystorePath(resolveHome(p.home));
  await assertWritableTarget(path, p.force ?? false);
  let key;
  if (p.keystoreFile) {
    let json: unknown;
    try {
      json = JSON.parse(await fs.readFile(resolve(p.keystoreFile), 'utf8'));
    } catch (e) {
      if (e instanceof SyntaxError)
        throw new SealworkError('KEYSTORE_INVALID', `${p.keystoreFile} is not JSON.`);
      throw fsError(e, p.keystoreFile, 'read keystore');
    }
    key = await decryptKeystore(json, p.keystorePassword ?? requirePassword(p));
  } else if (p.privateKey) key = parsePrivateKey(p.privateKey, 'The private key');
  else
    throw new SealworkError('WALLET_IMPORT_SOURCE_MISSING', 'Nothing to import.', {
      hint: 'Give a private key (prompted) or --keystore <file>.',
    });
  const ks = await encryptKeystore(key, requirePassword(p), { n: p.scryptN });
  await writeKeystore(path, ks, p.force);
  return { address: privateKeyToAccount(key).address, keystore: path };
}

/** The wallet's address (no password needed; nothing secret is read). */
export async function showWallet(p: { home?: string } = {}): Promise<WalletReturnType & { source: string }> {
  const env = process.env.SEALWORK_PRIVATE_KEY;
  const path = keystorePath(resolveHome(p.home));
  if (env)
    return {
      address: privateKeyToAccount(parsePrivateKey(env, 'SEALWORK_PRIVATE_KEY')).address,
      keystore: path,
      source: 'SEALWORK_PRIVATE_KEY',
    };
  const ks = await readKeystore(path);
  if (!ks?.address)
    throw new SealworkError('WALLET_MISSING', 'No wallet is configured.', {
      hint: 'Create one with `sealwork wallet create`, import one with `sealwork wallet import`, or set SEALWORK_PRIVATE_KEY.',
    });
  return { address: getAddress(`0x${ks.address.replace(/^0x/, '')}`), keystore: path, source: 'keystore' };
}
