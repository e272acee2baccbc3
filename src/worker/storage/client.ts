import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { SealworkError, fsError, isErrorCode } from '../../errors.js';
import { httpCall } from '../fetch.js';

export interface StorageEndpoint {
  url: string;
  certPath: string | null;
  pid?: number;
}

/** The running storage recorded under `<home>/storage/endpoint.json` by `storage start`. */
export async function readStorageEndpoint(home: string): Promise<StorageEndpoint | undefined> {
  try {
    return JSON.parse(await fs.readFile(join(home, 'storage', 'endpoint.json'), 'utf8')) as StorageEndpoint;
  } catch {
    return undefined;
  }
}

/** PEM certificates to trust for the local storage (its self-signed certificate), if any. */
export async function localStorageCa(home: string): Promise<string[]> {
  try {
    return [await fs.readFile(join(home, 'storage', 'tls', 'cert.pem'), 'utf8')];
  } catch {
    return [];
  }
}

export interface PutObjectReturnType {
  /** `0x` + sha256 of the content (also the dataset checksum for an encrypted dataset). */
  sha256: `0x${string}`;
  size: number;
  url: string;
  /** With `ipfs`: the UnixFS CID (v1) of the content, served at `<storage>/ipfs/<cid>`. */
  cid?: string;
}

/** Store bytes (or a file, streamed) in a content-addressed store; answers the URL to give as a dataset or result URL. */
export async function putObject(p: {
  url: string;
  data: Buffer | { file: string; size: number };
  ca?: string[];
  /** Also address the object the IPFS way (its UnixFS CID). */
  ipfs?: boolean;
}): Promise<PutObjectReturnType> {
  const size = Buffer.isBuffer(p.data) ? p.data.length : p.data.size;
  if (size === 0)
    throw new SealworkError('OBJECT_EMPTY', 'Cannot store an empty object.', {
      hint: 'Give a non-empty file.',
    });
  const r = await httpCall(new URL(p.ipfs ? '/objects?ipfs=true' : '/objects', p.url), {
    method: 'PUT',
    body: p.data,
    ca: p.ca,
    headers: { 'content-type': 'application/octet-stream' },
    maxBytes: 1 << 20,
    timeoutMs: 600_000,
  });
  let body: {
    sha256?: string;
    size?: number;
    url?: string;
    cid?: string;
    error?: { code: string; message: string };
  };
  try {
    body = JSON.parse(r.body.toString('utf8'));
  } catch {
    body = {};
  }
  const sent = body.error?.code;
  if (r.status !== 200 && r.status !== 201)
    throw new SealworkError(
      isErrorCode(sent) ? sent : 'STORAGE_PUT_FAILED',
      `The storage refused the object: ${body.error?.message ?? `HTTP ${r.status}`}`,
      { details: { status: r.status } },
    );
  return {
    sha256: body.sha256 as `0x${string}`,
    size: body.size ?? size,
    url: body.url as string,
    ...(body.cid ? { cid: body.cid } : {}),
  };
}

/** Store a file; the storage URL comes from `url` or the running local storage. */
export async function putFile(p: {
  file: string;
  url?: string;
  home: string;
  ca?: string[];
}): Promise<PutObjectReturnType> {
  let size: number;
  try {
    const st = await fs.stat(p.file);
    if (!st.isFile()) throw Object.assign(new Error('not a file'), { code: 'EISDIR' });
    size = st.size;
  } catch (e) {
    throw fsError(e, p.file, 'read');
  }
  let url = p.url;
  if (!url) {
    const ep = await readStorageEndpoint(p.home);
    if (!ep)
      throw new SealworkError('STORAGE_NOT_RUNNING', 'No storage is running under this home.', {
        hint: 'Start one with `sealwork storage start` (or `sealwork dev`), or pass --storage-url.',
      });
    url = ep.url;
  }
  const ca = p.ca ?? (await localStorageCa(p.home));
  // Streamed from disk: a large encrypted dataset is never held in memory.
  return putObject({ url, data: { file: p.file, size }, ca });
}
