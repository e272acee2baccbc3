/**
 * Dataset encryption, byte-compatible with the iExec SDK (`IExecDatasetModule.encrypt`):
 *
 *   key      = 32 random bytes, exchanged as standard base64 (44 characters)
 *   file.enc = IV (16 random bytes) ‖ AES-256-CBC(plaintext, PKCS#7 padding)   — no header, no MAC
 *   checksum = "0x" + lowercase hex sha256(file.enc)                              — deployed on chain
 *
 * CBC without a MAC gives confidentiality only; integrity of the encrypted file is provided by the
 * on-chain checksum, which the worker verifies before decrypting.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { createReadStream, promises as fs } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { SealworkError, fsError } from '../errors.js';
import { atomicTarget } from '../util/atomic.js';
import { growingFileHasher, inlineHasher } from './file-hasher.js';
import { minorGc } from '../util/gc.js';

export const DATASET_KEY_BYTES = 32;
export const DATASET_IV_BYTES = 16;
const AES_BLOCK = 16;
const CHUNK = 2 << 20;
const GC_EVERY = 8 << 20;
const HASH_ON_WORKER_FROM = 32 << 20; // below this, a worker's start-up costs more than it saves

export type ProgressFn = (done: number, total: number) => void;

/** A fresh dataset key as standard base64 (44 characters). */
export function generateDatasetKey(): string {
  return randomBytes(DATASET_KEY_BYTES).toString('base64');
}

/** Parse a base64 dataset key; throws DATASET_KEY_INVALID unless it is base64 of exactly 32 bytes. */
export function parseDatasetKey(key: string): Buffer {
  const trimmed = key.trim();
  const bytes = Buffer.from(trimmed, 'base64');
  if (
    !/^[A-Za-z0-9+/]+={0,2}$/.test(trimmed) ||
    bytes.length !== DATASET_KEY_BYTES ||
    bytes.toString('base64') !== trimmed
  ) {
    throw new SealworkError(
      'DATASET_KEY_INVALID',
      'The dataset key is not the base64 encoding of 32 bytes.',
      {
        hint: 'Use the key file written by `sealwork dataset encrypt` (44 base64 characters).',
        details: { length: trimmed.length },
      },
    );
  }
  return bytes;
}

/**
 * `IV (16 bytes) ‖ AES-256-CBC(PKCS#7)` under a raw 32-byte key, in memory: iExec's layout for
 * datasets and for results (`iexec_out.zip.aes`). A fresh random IV unless one is given.
 */
export function aesCbcEncrypt(plaintext: Uint8Array, key: Uint8Array, iv?: Uint8Array): Buffer {
  const ivBytes = iv ? Buffer.from(iv) : randomBytes(DATASET_IV_BYTES);
  if (ivBytes.length !== DATASET_IV_BYTES) throw new RangeError('IV must be 16 bytes');
  const c = createCipheriv('aes-256-cbc', key, ivBytes);
  return Buffer.concat([ivBytes, c.update(plaintext), c.final()]);
}

/** Whether `length` bytes can be `IV ‖ CBC blocks` (at least one block). */
export function isAesCbcLength(length: number): boolean {
  return length >= DATASET_IV_BYTES + AES_BLOCK && (length - DATASET_IV_BYTES) % AES_BLOCK === 0;
}

/**
 * The inverse of {@link aesCbcEncrypt}. Throws node:crypto's error on a bad padding (a wrong key or
 * a corrupted input): callers name the failure with their own code.
 */
export function aesCbcDecrypt(encrypted: Uint8Array, key: Uint8Array): Buffer {
  const buf = Buffer.from(encrypted.buffer, encrypted.byteOffset, encrypted.byteLength);
  const d = createDecipheriv('aes-256-cbc', key, buf.subarray(0, DATASET_IV_BYTES));
  return Buffer.concat([d.update(buf.subarray(DATASET_IV_BYTES)), d.final()]);
}

/** Encrypt a buffer in memory (same format as the files). */
export function encryptDatasetBuffer(plaintext: Uint8Array, key: string, iv?: Uint8Array): Buffer {
  return aesCbcEncrypt(plaintext, parseDatasetKey(key), iv);
}

function checkEncryptedLength(length: number, what: string): void {
  if (!isAesCbcLength(length)) {
    throw new SealworkError(
      'DATASET_TRUNCATED',
      `${what} is not an encrypted dataset: ${length} bytes, expected at least 32 and a multiple of 16.`,
      {
        hint: 'The file is truncated or was not produced by `dataset encrypt`; download it again.',
        details: { length },
      },
    );
  }
}

function badPadding(cause: unknown): SealworkError {
  return new SealworkError(
    'DATASET_DECRYPT_FAILED',
    'Decryption failed: wrong key or corrupted file (bad padding).',
    {
      hint: 'Check that the key file belongs to this dataset and that the file matches its on-chain checksum.',
      cause,
    },
  );
}

/** Decrypt a buffer in memory. */
export function decryptDatasetBuffer(encrypted: Uint8Array, key: string): Buffer {
  checkEncryptedLength(encrypted.length, 'The input');
  const k = parseDatasetKey(key);
  try {
    return aesCbcDecrypt(encrypted, k);
  } catch (e) {
    throw badPadding(e);
  }
}

/** `0x` + hex sha256 of a buffer. */
export function checksumBuffer(data: Uint8Array): `0x${string}` {
  return `0x${createHash('sha256').update(data).digest('hex')}`;
}

async function statFile(path: string): Promise<number> {
  try {
    const st = await fs.stat(path);
    if (st.isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
    return st.size;
  } catch (e) {
    throw fsError(e, path, 'read');
  }
}

/**
 * Stream the open `fin` through `update`, appending the output to `out`. Two read buffers: the
 * next read runs on the thread pool while the current chunk is transformed and written. A minor
 * GC every few MiB frees the cipher's output buffers (see util/gc.ts), so peak memory stays
 * constant — the process baseline plus a few MiB — whatever the file size. Reads are asynchronous,
 * so signals (Ctrl-C) are handled even while waiting on a slow input such as a pipe.
 */
async function pumpFile(
  input: string,
  fin: FileHandle,
  out: FileHandle,
  update: (chunk: Buffer) => Buffer,
  total: number,
  opts: StreamFileOptions,
  afterWrite?: () => void,
): Promise<void> {
  const read = (buf: Buffer) =>
    fin.read(buf, 0, CHUNK, null).catch((e) => {
      throw fsError(e, input, 'read');
    });
  const bufs = [Buffer.allocUnsafe(CHUNK), Buffer.allocUnsafe(CHUNK)] as const;
  let which = 0;
  let done = 0;
  let sinceGc = 0;
  // One read in flight at a time, at the current file position (works for pipes too).
  let reading = read(bufs[0]);
  while (true) {
    const { bytesRead, buffer } = await reading;
    if (bytesRead === 0) break;
    opts.signal?.throwIfAborted();
    which ^= 1;
    reading = read(bufs[which]!);
    await out.write(update(buffer.subarray(0, bytesRead)));
    afterWrite?.();
    done += bytesRead;
    sinceGc += bytesRead;
    if (sinceGc >= GC_EVERY) {
      sinceGc = 0;
      minorGc();
    }
    opts.onProgress?.(done, total);
  }
}

async function openInput(path: string): Promise<FileHandle> {
  return fs.open(path, 'r').catch((e) => {
    throw fsError(e, path, 'read');
  });
}

/** `0x` + hex sha256 of a file, streamed. */
export async function checksumFile(path: string, onProgress?: ProgressFn): Promise<`0x${string}`> {
  const total = await statFile(path);
  const hash = createHash('sha256');
  let done = 0;
  try {
    for await (const chunk of createReadStream(path, { highWaterMark: CHUNK })) {
      hash.update(chunk as Buffer);
      done += (chunk as Buffer).length;
      onProgress?.(done, total);
    }
  } catch (e) {
    throw fsError(e, path, 'read');
  }
  return `0x${hash.digest('hex')}`;
}

export interface StreamFileOptions {
  force?: boolean;
  onProgress?: ProgressFn;
  signal?: AbortSignal;
}

/**
 * Encrypt `input` into `output` (atomically: temp file + rename). Returns the checksum of the
 * encrypted file, computed on the fly (no second pass).
 */
export async function encryptDatasetFile(
  input: string,
  output: string,
  key: string,
  opts: StreamFileOptions = {},
): Promise<{ checksum: `0x${string}`; plainSize: number; encryptedSize: number }> {
  const k = parseDatasetKey(key);
  const total = await statFile(input);
  const target = await atomicTarget(output, { force: opts.force });
  const iv = randomBytes(DATASET_IV_BYTES);
  const cipher = createCipheriv('aes-256-cbc', k, iv);
  let encryptedSize = 0; // bytes of the output written so far
  let checksum: `0x${string}`;
  try {
    const out = await fs.open(target.tmpPath, 'wx', 0o644);
    // Large files are hashed on a worker thread that reads back what was written, so hashing
    // overlaps with encryption; small files are hashed inline.
    const inline = total < HASH_ON_WORKER_FROM ? inlineHasher() : undefined;
    const hasher = inline ?? growingFileHasher(target.tmpPath);
    try {
      let pending = 0;
      const produced = (c: Buffer) => {
        inline?.update(c);
        pending = c.length;
        return c;
      };
      const written = () => {
        encryptedSize += pending;
        hasher.advance(encryptedSize);
      };
      await out.write(produced(iv));
      written();
      const fin = await openInput(input);
      try {
        await pumpFile(input, fin, out, (chunk) => produced(cipher.update(chunk)), total, opts, written);
      } finally {
        await fin.close();
      }
      await out.write(produced(cipher.final()));
      written();
      checksum = `0x${await hasher.finish(encryptedSize)}`;
    } finally {
      await hasher.close();
      await out.close();
    }
    await target.commit();
  } catch (e) {
    await target.abort();
    if (e instanceof SealworkError) throw e;
    throw fsError(e, input, 'encrypt');
  }
  return { checksum, plainSize: total, encryptedSize };
}

/** Decrypt `input` (IV ‖ AES-256-CBC) into `output`, atomically; nothing is left on failure. */
export async function decryptDatasetFile(
  input: string,
  output: string,
  key: string,
  opts: StreamFileOptions = {},
): Promise<{ plainSize: number }> {
  const k = parseDatasetKey(key);
  const total = await statFile(input);
  checkEncryptedLength(total, input);
  const target = await atomicTarget(output, { force: opts.force });
  let plainSize = 0;
  const fin = await openInput(input);
  try {
    const iv = Buffer.alloc(DATASET_IV_BYTES);
    await fin.read(iv, 0, DATASET_IV_BYTES, null);
    const decipher = createDecipheriv('aes-256-cbc', k, iv);
    const out = await fs.open(target.tmpPath, 'wx', 0o644);
    try {
      const decrypt = (chunk: Buffer) => {
        const p = decipher.update(chunk);
        plainSize += p.length;
        return p;
      };
      await pumpFile(input, fin, out, decrypt, total - DATASET_IV_BYTES, opts);
      let last: Buffer;
      try {
        last = decipher.final();
      } catch (e) {
        throw badPadding(e);
      }
      plainSize += last.length;
      await out.write(last);
    } finally {
      await out.close();
    }
    await target.commit();
  } catch (e) {
    await target.abort();
    if (e instanceof SealworkError) throw e;
    throw fsError(e, input, 'decrypt');
  } finally {
    await fin.close();
  }
  return { plainSize };
}
