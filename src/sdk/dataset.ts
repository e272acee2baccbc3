import { promises as fs } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import {
  checksumFile,
  decryptDatasetFile,
  encryptDatasetFile,
  generateDatasetKey,
  parseDatasetKey,
  type ProgressFn,
} from '../crypto/dataset.js';
import { SealworkError, fsError } from '../errors.js';
import { assertWritableTarget, writeFileAtomic } from '../util/atomic.js';
import { resolveHome } from '../util/home.js';

export type { ProgressFn };

export interface EncryptDatasetParameters {
  /** Plaintext file. */
  input: string;
  /** Encrypted output (default `<input>.enc`). */
  output?: string;
  /** Where to write the key (default `$SEALWORK_HOME/keys/datasets/<output name>.key`), mode 0600. */
  keyFile?: string;
  /** Use this base64 key instead of generating one. */
  key?: string;
  force?: boolean;
  home?: string;
  onProgress?: ProgressFn;
  signal?: AbortSignal;
}

export interface EncryptDatasetReturnType {
  output: string;
  keyFile: string;
  /** `0x` + sha256 of the encrypted file: the checksum to deploy on chain. */
  checksum: `0x${string}`;
  /** The base64 key. Callers must not print it unless asked to. */
  key: string;
  plainSize: number;
  encryptedSize: number;
}

export async function encryptDataset(p: EncryptDatasetParameters): Promise<EncryptDatasetReturnType> {
  const input = resolve(p.input);
  const output = resolve(p.output ?? `${p.input}.enc`);
  const keyFile = resolve(
    p.keyFile ?? join(resolveHome(p.home), 'keys', 'datasets', `${basename(output)}.key`),
  );
  if (output === input)
    throw new SealworkError('OUTPUT_IS_INPUT', 'The output path is the input file.', {
      hint: 'Choose another --out.',
    });
  const key = p.key ?? generateDatasetKey();
  parseDatasetKey(key);
  // Refuse before doing any work, so nothing is written when a target exists.
  await assertWritableTarget(output, p.force ?? false);
  await assertWritableTarget(keyFile, p.force ?? false);
  const r = await encryptDatasetFile(input, output, key, {
    force: p.force,
    onProgress: p.onProgress,
    signal: p.signal,
  });
  try {
    await writeFileAtomic(keyFile, key, { force: p.force, mode: 0o600 });
  } catch (e) {
    // An encrypted file whose key is lost is useless: remove it.
    await fs.rm(output, { force: true });
    throw e;
  }
  return {
    output,
    keyFile,
    checksum: r.checksum,
    key,
    plainSize: r.plainSize,
    encryptedSize: r.encryptedSize,
  };
}

/** Read a dataset key file (base64 of 32 bytes, surrounding whitespace ignored). */
export async function readDatasetKeyFile(path: string): Promise<string> {
  let text: string;
  try {
    text = await fs.readFile(path, 'utf8');
  } catch (e) {
    throw fsError(e, path, 'read key file');
  }
  try {
    parseDatasetKey(text);
  } catch (e) {
    throw new SealworkError(
      'DATASET_KEY_INVALID',
      `The key file ${path} does not hold a base64 key of 32 bytes.`,
      {
        hint: 'Use the key file written by `sealwork dataset encrypt`.',
        details: { path },
        cause: e,
      },
    );
  }
  return text.trim();
}

export interface DecryptDatasetParameters {
  input: string;
  keyFile?: string;
  key?: string;
  /** Plaintext output (default: input without `.enc`, else `<input>.dec`). */
  output?: string;
  force?: boolean;
  onProgress?: ProgressFn;
  signal?: AbortSignal;
}

export async function decryptDataset(
  p: DecryptDatasetParameters,
): Promise<{ output: string; plainSize: number }> {
  const input = resolve(p.input);
  const output = resolve(p.output ?? (p.input.endsWith('.enc') ? p.input.slice(0, -4) : `${p.input}.dec`));
  if (output === input)
    throw new SealworkError('OUTPUT_IS_INPUT', 'The output path is the input file.', {
      hint: 'Choose another --out.',
    });
  let key = p.key;
  if (key === undefined) {
    if (!p.keyFile)
      throw new SealworkError('DATASET_KEY_MISSING', 'No dataset key given.', {
        hint: 'Pass --key-file <path>.',
      });
    key = await readDatasetKeyFile(p.keyFile);
  }
  const r = await decryptDatasetFile(input, output, key, {
    force: p.force,
    onProgress: p.onProgress,
    signal: p.signal,
  });
  return { output, plainSize: r.plainSize };
}

export async function datasetChecksum(p: { input: string; onProgress?: ProgressFn }): Promise<`0x${string}`> {
  return checksumFile(resolve(p.input), p.onProgress);
}
