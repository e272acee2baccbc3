/**
 * Pre-compute, inside the enclave: fetch the dataset and input files, check the dataset checksum,
 * decrypt the dataset in memory. Nothing here touches the host disk in clear.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { posix } from 'node:path';
import { decryptDatasetBuffer } from '../crypto/dataset.js';
import { SealworkError } from '../errors.js';
import { isFetchRefusal as isPolicyRefusal, PUBLIC_ONLY } from './egress.js';
import { fetchBytes, resolveLocation, type FetchOptions } from './fetch.js';

/** The worker's downloads reach public addresses only unless the caller gives its guard. */
const guarded = (o: FetchOptions): FetchOptions => ({ ...o, guard: o.guard ?? PUBLIC_ONLY });

export interface InMemoryFile {
  /** Absolute path inside the enclave, e.g. /iexec_in/0xabc… */
  path: string;
  data: Buffer;
}

export interface DatasetRelease {
  address: string;
  url: string;
  checksum: string;
  /** base64 AES-256 key. */
  key: string;
}

export interface DatasetPolicy {
  /**
   * Accept a dataset whose on-chain checksum is zero, skipping the integrity check (default false:
   * refused with `DATASET_CHECKSUM_ZERO`). AES-CBC has no MAC: without the checksum a dataset is
   * malleable (whoever serves it can flip plaintext bits blockwise) and decryption failures could
   * serve as a padding oracle. Worker option `--allow-unchecked-datasets`.
   */
  allowUnchecked?: boolean;
}

const ZERO_CHECKSUM = /^0x0{64}$/;

/**
 * Download the dataset, verify `0x`+sha256 against the on-chain checksum, decrypt it in memory. A
 * zero checksum is refused before anything is downloaded, unless `policy.allowUnchecked`.
 */
export async function fetchDataset(
  ds: DatasetRelease,
  o: FetchOptions = {},
  policy: DatasetPolicy = {},
): Promise<InMemoryFile> {
  const unset = ZERO_CHECKSUM.test(ds.checksum);
  if (unset && !policy.allowUnchecked)
    throw new SealworkError(
      'DATASET_CHECKSUM_ZERO',
      `Dataset ${ds.address} has a zero on-chain checksum: its integrity cannot be checked (AES-CBC has no MAC).`,
      {
        hint: 'The dataset owner deploys it with its checksum (`sealwork dataset checksum <file.enc>`); a worker operator can accept unchecked datasets with --allow-unchecked-datasets.',
        details: { dataset: ds.address },
      },
    );
  const enc = await fetchBytes(ds.url, guarded(o)).catch((e) => {
    if (isPolicyRefusal(e)) throw e;
    throw new SealworkError(
      'DATASET_DOWNLOAD_FAILED',
      `Cannot download dataset ${ds.address} from ${ds.url}.`,
      {
        details: { dataset: ds.address, url: ds.url },
        cause: e,
      },
    );
  });
  const got = createHash('sha256').update(enc).digest();
  const want = /^0x[0-9a-fA-F]{64}$/.test(ds.checksum) ? Buffer.from(ds.checksum.slice(2), 'hex') : undefined;
  if (!unset && (!want || !timingSafeEqual(got, want)))
    throw new SealworkError(
      'DATASET_CHECKSUM_MISMATCH',
      `Dataset ${ds.address}: the file at ${ds.url} hashes to 0x${got.toString('hex')}, not to the on-chain checksum ${ds.checksum}.`,
      {
        details: {
          dataset: ds.address,
          url: ds.url,
          expected: ds.checksum,
          found: `0x${got.toString('hex')}`,
        },
      },
    );
  let data: Buffer;
  try {
    data = decryptDatasetBuffer(enc, ds.key);
  } catch (e) {
    throw new SealworkError(
      'DATASET_DECRYPT_FAILED',
      `Dataset ${ds.address} does not decrypt with the key from the SMS.`,
      {
        details: { dataset: ds.address },
        cause: e,
      },
    );
  }
  return { path: `/iexec_in/${ds.address}`, data };
}

/** iExec's input file name: the last path segment of the URL. */
export function inputFileName(url: string, ipfsGateway?: string): string {
  const u = resolveLocation(url, ipfsGateway);
  const name = decodeURIComponent(posix.basename(u.pathname));
  if (!name || name === '.' || name === '..' || name.includes('/'))
    throw new SealworkError('INPUT_FILE_INVALID', `Cannot name the input file from ${url}.`, {
      hint: 'Input file URLs must end with a file name.',
    });
  return name;
}

/** Fetch the task's input files (`iexec_input_files`) into memory as /iexec_in/<name>. */
export async function fetchInputFiles(urls: string[], o: FetchOptions = {}): Promise<InMemoryFile[]> {
  const out: InMemoryFile[] = [];
  for (const url of urls) {
    const name = inputFileName(url, o.ipfsGateway);
    const data = await fetchBytes(url, guarded(o)).catch((e) => {
      if (isPolicyRefusal(e)) throw e;
      throw new SealworkError('INPUT_FILE_DOWNLOAD_FAILED', `Cannot download input file ${url}.`, {
        details: { url },
        cause: e,
      });
    });
    out.push({ path: `/iexec_in/${name}`, data });
  }
  return out;
}
