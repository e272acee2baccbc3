import { resolveHome } from '../../util/home.js';
import { putFile, type PutObjectReturnType } from '../../worker/storage/client.js';
import { startStorage, type StorageServer } from '../../worker/storage/server.js';
import { SealworkError } from '../../errors.js';

export type { PutObjectReturnType, StorageServer };

/** Parse a size such as `512`, `10K`, `64M`, `1G` (binary units) into bytes. */
export function parseSize(text: string): number {
  const m = /^(\d+)\s*([KMG]i?B?)?$/i.exec(text.trim());
  if (!m)
    throw new SealworkError('SIZE_INVALID', `Cannot read the size "${text}".`, {
      hint: 'Use a number of bytes or a suffix K, M or G (e.g. 64M).',
    });
  const mult = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 }[(m[2] ?? '').charAt(0).toUpperCase()] ?? 1;
  const n = Number(m[1]) * mult;
  if (!Number.isSafeInteger(n) || n <= 0)
    throw new SealworkError('SIZE_INVALID', `The size "${text}" is out of range.`, {
      hint: 'Use a positive size.',
    });
  return n;
}

export interface StartStorageServiceParameters {
  home?: string;
  host?: string;
  port?: number;
  maxObjectBytes?: number;
  insecureHttp?: boolean;
}

/** Start the embedded content-addressed store (TLS, self-signed certificate under the home). */
export async function startStorageService(p: StartStorageServiceParameters = {}): Promise<StorageServer> {
  return startStorage({
    home: resolveHome(p.home),
    host: p.host,
    port: p.port,
    maxObjectBytes: p.maxObjectBytes,
    insecureHttp: p.insecureHttp,
  });
}

/** Store a file in the storage (the running local one unless `storageUrl`); returns its URL. */
export async function storagePut(p: {
  file: string;
  storageUrl?: string;
  home?: string;
}): Promise<PutObjectReturnType> {
  return putFile({ file: p.file, url: p.storageUrl, home: resolveHome(p.home) });
}
