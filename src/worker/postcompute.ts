/**
 * iExec's post-compute, byte for byte: computed.json, the result digest, the result zip and the
 * result encryption (`iexec_out.zip.aes` + `aes-key.rsa`). See docs/worker.md.
 */
import {
  constants,
  createHash,
  createPrivateKey,
  createPublicKey,
  privateDecrypt,
  publicEncrypt,
  randomBytes,
  type KeyObject,
} from 'node:crypto';
import { posix } from 'node:path';
import forge from 'node-forge';
import { hexToBytes, keccak256, isHex } from 'viem';
import { aesCbcDecrypt, aesCbcEncrypt, isAesCbcLength } from '../crypto/dataset.js';
import { isSealworkError, SealworkError } from '../errors.js';
import type { ResultKeyFormat } from '../protocol/index.js';
import { OutputFolder, type OutputEntry, type OutputLimits } from '../enclave/output-folder.js';
import { unzipEntries, zipEntries } from './zip.js';

export const COMPUTED_JSON = 'computed.json';
export const ENC_RESULT_FILE = 'iexec_out.zip.aes';
export const ENC_KEY_FILE = 'aes-key.rsa';

export type { ResultKeyFormat } from '../protocol/index.js';

export interface ComputedJson {
  /** Absolute path inside the enclave, under /iexec_out. */
  deterministicOutputPath?: string;
  /** Hex bytes for web3 (callback) tasks. */
  callbackData?: `0x${string}`;
}

/** computed.json is read only up to this size (64 KiB): it holds two short fields. */
export const MAX_COMPUTED_JSON_BYTES = 64 * 1024;

/**
 * Read and check `<outDir>/computed.json` (`deterministic-output-path`, `callback-data`). Only a
 * regular file is read (never through a link, never a FIFO), up to {@link MAX_COMPUTED_JSON_BYTES}.
 */
export async function readComputedJson(
  outDir: string,
  limits: Pick<OutputLimits, 'timeoutMs'> = {},
): Promise<ComputedJson> {
  const out = new OutputFolder(outDir, { maxBytes: MAX_COMPUTED_JSON_BYTES, ...limits });
  const missing = () =>
    new SealworkError('COMPUTED_JSON_MISSING', 'The app wrote no /iexec_out/computed.json.', {
      hint: 'An iExec app must write {"deterministic-output-path": "/iexec_out/<file>"} to /iexec_out/computed.json.',
    });
  const entry = await out.entry(COMPUTED_JSON);
  if (!entry) throw missing();
  if (entry.type === 'directory')
    throw new SealworkError('COMPUTED_JSON_INVALID', '/iexec_out/computed.json is a folder, not a file.', {
      hint: 'Write computed.json as a regular file.',
    });
  if (entry.type !== 'file') throw out.refused(COMPUTED_JSON, entry.type);
  let text: string;
  try {
    text = (await out.read(entry)).data.toString('utf8');
  } catch (e) {
    if (isSealworkError(e, 'RESULT_TOO_LARGE'))
      throw new SealworkError(
        'COMPUTED_JSON_INVALID',
        `/iexec_out/computed.json is larger than ${MAX_COMPUTED_JSON_BYTES} bytes.`,
        {
          hint: 'computed.json holds only "deterministic-output-path" or "callback-data": keep it small.',
          details: { path: '/iexec_out/computed.json', limit: 'bytes', max: MAX_COMPUTED_JSON_BYTES },
        },
      );
    throw e;
  }
  let j: unknown;
  try {
    j = JSON.parse(text);
  } catch (e) {
    throw new SealworkError('COMPUTED_JSON_INVALID', '/iexec_out/computed.json is not valid JSON.', {
      cause: e,
    });
  }
  if (typeof j !== 'object' || j === null || Array.isArray(j))
    throw new SealworkError('COMPUTED_JSON_INVALID', '/iexec_out/computed.json is not a JSON object.');
  const o = j as Record<string, unknown>;
  const path = o['deterministic-output-path'];
  const cb = o['callback-data'];
  if (path !== undefined && (typeof path !== 'string' || path.length === 0))
    throw new SealworkError(
      'COMPUTED_JSON_INVALID',
      '"deterministic-output-path" must be a non-empty string.',
    );
  if (cb !== undefined && cb !== null && (typeof cb !== 'string' || !isHex(cb)))
    throw new SealworkError('COMPUTED_JSON_INVALID', '"callback-data" must be 0x-prefixed hex.');
  if (path === undefined && (cb === undefined || cb === null))
    throw new SealworkError(
      'COMPUTED_JSON_INVALID',
      '/iexec_out/computed.json names neither "deterministic-output-path" nor "callback-data".',
    );
  return {
    ...(typeof path === 'string' ? { deterministicOutputPath: path } : {}),
    ...(typeof cb === 'string' ? { callbackData: cb as `0x${string}` } : {}),
  };
}

/**
 * The result digest, as iExec's post-compute computes it:
 * - web3 (callback-data): keccak256 of the callback bytes;
 * - file: `0x` + sha256 of its bytes;
 * - folder: keccak256 of the concatenated sha256 of its top-level entries, sorted by path
 *   (sub-folders and empty files contribute nothing, as in iExec).
 *
 * Every path component is checked without following links; a link, FIFO, socket or device on the
 * way or among the folder's entries is refused (`RESULT_ENTRY_REFUSED`), and the bytes read are
 * bounded by `limits.maxBytes` (`RESULT_TOO_LARGE`). See ./output.ts.
 */
export async function computeResultDigest(
  outDir: string,
  computed: ComputedJson,
  limits: OutputLimits = {},
): Promise<`0x${string}`> {
  if (computed.callbackData) return keccak256(hexToBytes(computed.callbackData));
  const p = computed.deterministicOutputPath ?? '';
  const norm = posix.normalize(p);
  if (!(norm === '/iexec_out' || norm.startsWith('/iexec_out/')))
    throw new SealworkError(
      'DETERMINISTIC_OUTPUT_INVALID',
      `"deterministic-output-path" ${p} is not under /iexec_out.`,
      { hint: 'Point it to a file or folder the app wrote in /iexec_out.' },
    );
  const rel = norm.slice('/iexec_out'.length).replace(/^\/+|\/+$/g, '');
  const out = new OutputFolder(outDir, limits);
  const entry = await out.entry(rel);
  if (!entry)
    throw new SealworkError('DETERMINISTIC_OUTPUT_MISSING', `The deterministic output ${p} does not exist.`, {
      hint: 'The app must write the file named in computed.json.',
    });
  const sha256Of = async (e: OutputEntry): Promise<Buffer | undefined> => {
    const h = createHash('sha256');
    const { size } = await out.read(e, { onChunk: (c) => h.update(c) });
    return size === 0 ? undefined : h.digest();
  };
  if (entry.type === 'file') {
    const digest = await sha256Of(entry);
    if (!digest)
      throw new SealworkError('DETERMINISTIC_OUTPUT_EMPTY', `The deterministic output ${p} is empty.`);
    return `0x${digest.toString('hex')}`;
  }
  if (entry.type !== 'directory') throw out.refused(entry.rel, entry.type);
  // Top-level entries in byte order; links and special files are refused by list().
  const parts: Buffer[] = [];
  for (const e of await out.list(entry)) {
    if (e.type !== 'file') continue;
    const digest = await sha256Of(e);
    if (digest) parts.push(digest);
  }
  if (parts.length === 0)
    throw new SealworkError(
      'DETERMINISTIC_OUTPUT_EMPTY',
      `The deterministic output folder ${p} holds no file.`,
    );
  return keccak256(Buffer.concat(parts));
}

/** Parse the beneficiary's public key: PEM (SPKI or PKCS#1), or base64 of a PEM as the SMS stores it. */
export function parseResultPublicKey(text: string): KeyObject {
  let pem = text.trim();
  if (!pem.startsWith('-----BEGIN')) {
    const decoded = Buffer.from(pem, 'base64').toString('utf8').trim();
    if (decoded.startsWith('-----BEGIN')) pem = decoded;
  }
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch (e) {
    throw new SealworkError(
      'RESULT_KEY_INVALID',
      'The result-encryption public key is not an RSA public key (PEM).',
      {
        hint: 'Use an RSA public key in PEM (e.g. from `openssl genrsa` + `openssl rsa -pubout`).',
        cause: e,
      },
    );
  }
  if (key.asymmetricKeyType !== 'rsa')
    throw new SealworkError(
      'RESULT_KEY_INVALID',
      `The result-encryption key is ${key.asymmetricKeyType}, not RSA.`,
      {
        hint: 'Use an RSA key (2048 bits or more).',
      },
    );
  return key;
}

/** Decrypt `iexec_out.zip.aes` (IV ‖ AES-256-CBC, crypto/dataset.ts) with the result key. */
function decryptResultFile(data: Buffer, key: Buffer): Buffer {
  if (!isAesCbcLength(data.length))
    throw new SealworkError('RESULT_CORRUPTED', 'The encrypted result has a wrong length.');
  try {
    return aesCbcDecrypt(data, key);
  } catch (e) {
    throw new SealworkError(
      'RESULT_DECRYPT_FAILED',
      'The result does not decrypt under its key (bad padding).',
      {
        cause: e,
      },
    );
  }
}

/**
 * Encrypt a result zip for its beneficiary: a zip holding `iexec_out.zip.aes` (IV ‖ AES-256-CBC
 * under a fresh key) and `aes-key.rsa` (that key RSA-encrypted to `publicKey`).
 */
export async function encryptResult(
  zip: Buffer,
  publicKey: string | KeyObject,
  format: ResultKeyFormat = 'oaep-sha256',
): Promise<Buffer> {
  const pub = typeof publicKey === 'string' ? parseResultPublicKey(publicKey) : publicKey;
  const aesKey = randomBytes(32);
  try {
    const wrapped =
      format === 'iexec'
        ? publicEncrypt({ key: pub, padding: constants.RSA_PKCS1_PADDING }, aesKey)
        : publicEncrypt({ key: pub, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, aesKey);
    return await zipEntries([
      { name: ENC_RESULT_FILE, data: aesCbcEncrypt(zip, aesKey) },
      { name: ENC_KEY_FILE, data: wrapped },
    ]);
  } finally {
    aesKey.fill(0);
  }
}

/** True when the zip has the encrypted-result layout. */
export async function isEncryptedResult(zip: Buffer): Promise<boolean> {
  const entries = await unzipEntries(zip, { maxEntries: 100_000 });
  return entries.has(ENC_RESULT_FILE) && entries.has(ENC_KEY_FILE);
}

export const PKCS1_WARNING =
  'note: this result key is wrapped with RSA PKCS#1 v1.5 (the iExec format, used for requests that do not ask ' +
  'for sealwork_result_key_format "oaep-sha256"); it was decrypted locally with node-forge, where no padding ' +
  'oracle can be queried. Ask for the RSA-OAEP wrap (sealwork app run --result-key-format oaep) to avoid it.';

/**
 * Decrypt an encrypted result zip with the beneficiary's RSA private key (PEM). Tries
 * RSA-OAEP-SHA256, then iExec's PKCS#1 v1.5 through node-forge (calling `onWarning`).
 * Returns the inner zip of /iexec_out.
 */
export async function decryptResult(
  encZip: Buffer,
  privateKeyPem: string,
  o: { onWarning?: (message: string) => void } = {},
): Promise<{ zip: Buffer; format: ResultKeyFormat }> {
  const entries = await unzipEntries(encZip, { maxEntries: 16 });
  const encResult = entries.get(ENC_RESULT_FILE);
  const encKey = entries.get(ENC_KEY_FILE);
  if (!encResult || !encKey)
    throw new SealworkError(
      'RESULT_NOT_ENCRYPTED',
      `The result archive holds no ${ENC_RESULT_FILE} / ${ENC_KEY_FILE}.`,
      {
        hint: 'This result is not encrypted: use it without --decrypt.',
      },
    );
  let priv: KeyObject;
  try {
    priv = createPrivateKey(privateKeyPem);
  } catch (e) {
    throw new SealworkError('RESULT_KEY_INVALID', 'The beneficiary key is not an RSA private key (PEM).', {
      hint: 'Give the private key file made with the public key you pushed.',
      cause: e,
    });
  }
  let aesKey: Buffer | undefined;
  let format: ResultKeyFormat = 'oaep-sha256';
  try {
    aesKey = privateDecrypt(
      { key: priv, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
      encKey,
    );
  } catch {
    try {
      const fk = forge.pki.privateKeyFromPem(priv.export({ type: 'pkcs1', format: 'pem' }).toString());
      const raw = fk.decrypt(encKey.toString('binary'), 'RSAES-PKCS1-V1_5');
      aesKey = Buffer.from(raw, 'binary');
      format = 'iexec';
    } catch {
      aesKey = undefined;
    }
  }
  if (!aesKey || aesKey.length !== 32)
    throw new SealworkError('RESULT_KEY_MISMATCH', 'The beneficiary key cannot decrypt this result key.', {
      hint: 'Use the private key whose public key was pushed to the SMS for this beneficiary.',
    });
  if (format === 'iexec') o.onWarning?.(PKCS1_WARNING);
  try {
    return { zip: decryptResultFile(encResult, aesKey), format };
  } catch (e) {
    // A PKCS#1 v1.5 false positive under a wrong key lands here.
    throw new SealworkError('RESULT_KEY_MISMATCH', 'The beneficiary key cannot decrypt this result.', {
      hint: 'Use the private key whose public key was pushed to the SMS for this beneficiary.',
      cause: e,
    });
  } finally {
    aesKey.fill(0);
  }
}
