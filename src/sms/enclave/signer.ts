/**
 * The SMS signer (the simulation of SGX enclave signing): an Ed25519 key signs the SIGSTRUCT —
 * MRENCLAVE, ISVPRODID, ISVSVN — and MRSIGNER is sha256 of its public key (SubjectPublicKeyInfo
 * DER), as SGX's MRSIGNER is the hash of the SIGSTRUCT modulus. Dev stack: a key generated once
 * under the home (`keys/sms/signer.key`, 0600, never mounted in the enclave); production: the
 * operator's release key, given by path (`openssl genpkey -algorithm ed25519`).
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign,
  verify,
  type KeyObject,
} from 'node:crypto';
import { promises as fs } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { SealworkError, fsError } from '../../errors.js';
import { writeFileAtomic } from '../../util/atomic.js';
import { sigStructMessage, type SmsEnclaveIdentity, type SmsSigStruct } from './identity.js';

export interface SmsSigner {
  privateKey: KeyObject;
  publicKeyPem: string;
  mrSigner: string;
  /** Where the key was read from. */
  path: string;
  created: boolean;
}

export const devSignerPath = (home: string) => join(home, 'keys', 'sms', 'signer.key');

/** MRSIGNER of a public key: sha256 of its SubjectPublicKeyInfo DER. */
export function mrSignerOf(publicKey: KeyObject | string): string {
  const k = typeof publicKey === 'string' ? createPublicKey(publicKey) : publicKey;
  return createHash('sha256')
    .update(k.export({ type: 'spki', format: 'der' }))
    .digest('hex');
}

function signerFrom(pem: string, path: string, created: boolean): SmsSigner {
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(pem);
  } catch (e) {
    throw new SealworkError('SMS_SIGNING_KEY_INVALID', `${path} is not a private key in PEM.`, {
      hint: 'Give an Ed25519 private key: openssl genpkey -algorithm ed25519 -out sms-signer.key',
      cause: e,
    });
  }
  if (privateKey.asymmetricKeyType !== 'ed25519')
    throw new SealworkError('SMS_SIGNING_KEY_INVALID', `${path} is not an Ed25519 key.`, {
      hint: 'Give an Ed25519 private key: openssl genpkey -algorithm ed25519 -out sms-signer.key',
      details: { type: privateKey.asymmetricKeyType },
    });
  const pub = createPublicKey(privateKey);
  return {
    privateKey,
    publicKeyPem: pub.export({ type: 'spki', format: 'pem' }).toString(),
    mrSigner: mrSignerOf(pub),
    path,
    created,
  };
}

/** The operator's key at `path`, or the dev key under `home` (generated on first use). */
export async function loadOrCreateSigner(home: string, path?: string): Promise<SmsSigner> {
  const file = resolve(path ?? devSignerPath(home));
  try {
    return signerFrom(await fs.readFile(file, 'utf8'), file, false);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    if (path)
      throw new SealworkError('SMS_SIGNING_KEY_INVALID', `The SMS signing key ${file} does not exist.`, {
        hint: 'Give the path of the release signing key (Ed25519, PEM), or omit --signing-key to use the dev key.',
      });
  }
  const pem = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  try {
    await fs.mkdir(dirname(file), { recursive: true, mode: 0o700 });
    await writeFileAtomic(file, pem, { mode: 0o600 });
  } catch (e) {
    // Another process created it first: use theirs.
    const theirs = await fs.readFile(file, 'utf8').catch(() => undefined);
    if (theirs) return signerFrom(theirs, file, false);
    throw e instanceof SealworkError ? e : fsError(e, file, 'write the SMS signing key');
  }
  return signerFrom(pem, file, true);
}

/** Sign an identity (the SIGSTRUCT). */
export function signIdentity(
  s: Pick<SmsSigner, 'privateKey' | 'publicKeyPem'>,
  i: Pick<SmsEnclaveIdentity, 'mrEnclave' | 'isvProdId' | 'isvSvn'>,
): SmsSigStruct {
  return {
    signerPublicKey: s.publicKeyPem,
    signature: sign(null, sigStructMessage(i), s.privateKey).toString('base64'),
  };
}

/** What EINIT checks: the SIGSTRUCT is signed by the key MRSIGNER names, over this identity. */
export function checkSigStruct(i: SmsEnclaveIdentity, s: SmsSigStruct): void {
  let ok = false;
  try {
    ok =
      mrSignerOf(s.signerPublicKey) === i.mrSigner &&
      verify(
        null,
        sigStructMessage(i),
        createPublicKey(s.signerPublicKey),
        Buffer.from(s.signature, 'base64'),
      );
  } catch {
    ok = false;
  }
  if (!ok)
    throw new SealworkError(
      'SMS_SIGSTRUCT_INVALID',
      'The SMS identity is not signed by the key its MRSIGNER names.',
      {
        hint: 'Measure and sign again (sealwork sms measure); never edit a measurement by hand.',
        details: { mrEnclave: i.mrEnclave, mrSigner: i.mrSigner },
      },
    );
}
