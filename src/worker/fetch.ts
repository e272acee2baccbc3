import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, promises as fs } from 'node:fs';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { rootCertificates } from 'node:tls';
import { sep } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { SealworkError } from '../errors.js';

export interface FetchOptions {
  /** Extra trusted CA certificates (PEM), e.g. the local storage's self-signed certificate. */
  ca?: string[];
  /** Refuse bodies over this size (default 1 GiB). */
  maxBytes?: number;
  /** Gateway for `ipfs://<cid>` and `/ipfs/<cid>` URLs (default https://ipfs.io). */
  ipfsGateway?: string;
  timeoutMs?: number;
  /**
   * `file://` URLs: read anywhere (undefined: a local user fetching for themselves), refused
   * (`false`: the worker's default, since a dataset or input-file URL comes from someone else and
   * must not read the worker host's files), or only under this folder (symlinks resolved).
   */
  fileRoot?: string | false;
}

async function checkFileRoot(path: string, root: string | false | undefined, href: string): Promise<void> {
  if (root === undefined) return;
  const refuse = () =>
    new SealworkError('FILE_URL_REFUSED', `This worker does not read ${href}: file:// URLs are off here.`, {
      hint:
        root === false
          ? 'Use an http(s):// or IPFS location; a worker operator can allow a folder with --file-root <dir>.'
          : `This worker reads file:// URLs only under ${root}.`,
      details: { url: href },
    });
  if (root === false) throw refuse();
  const [real, base] = await Promise.all([
    fs.realpath(path).catch(() => path),
    fs.realpath(root).catch(() => root),
  ]);
  if (real !== base && !real.startsWith(base.endsWith(sep) ? base : base + sep)) throw refuse();
}

/** Turn a multiaddr-ish dataset/app location into a fetchable URL. */
export function resolveLocation(location: string, ipfsGateway = 'https://ipfs.io'): URL {
  const gw = ipfsGateway.replace(/\/+$/, '');
  if (location.startsWith('ipfs://')) return new URL(`${gw}/ipfs/${location.slice('ipfs://'.length)}`);
  if (location.startsWith('/ipfs/')) return new URL(`${gw}${location}`);
  let u: URL;
  try {
    u = new URL(location);
  } catch (e) {
    throw new SealworkError('URL_INVALID', `Cannot use location ${location}: not a URL.`, {
      hint: 'Use an http(s)://, file:// or IPFS (/ipfs/<cid>) location.',
      cause: e,
    });
  }
  if (!['http:', 'https:', 'file:'].includes(u.protocol))
    throw new SealworkError(
      'URL_SCHEME_UNSUPPORTED',
      `Cannot fetch ${location}: unsupported scheme ${u.protocol}`,
      {
        hint: 'Use an http(s)://, file:// or IPFS (/ipfs/<cid>) location.',
      },
    );
  return u;
}

/** The CA list to use for our HTTPS requests: the system roots plus `extra`. */
export function caList(extra: string[] = []): string[] | undefined {
  return extra.length ? [...rootCertificates, ...extra] : undefined;
}

function collect(res: IncomingMessage, maxBytes: number, url: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    res.on('data', (c: Buffer) => {
      size += c.length;
      if (size > maxBytes) {
        res.destroy();
        reject(
          new SealworkError('DOWNLOAD_TOO_LARGE', `The download from ${url} is over ${maxBytes} bytes.`, {
            details: { url },
          }),
        );
        return;
      }
      chunks.push(c);
    });
    res.on('end', () => resolve(Buffer.concat(chunks)));
    res.on('error', reject);
  });
}

/** Send one HTTP(S) request and read the whole answer (bounded). */
export function httpCall(
  url: URL,
  o: FetchOptions & {
    method?: string;
    /** The request body: bytes, or a file streamed from disk (constant memory). */
    body?: Buffer | { file: string; size: number };
    headers?: Record<string, string>;
  } = {},
): Promise<{ status: number; headers: IncomingMessage['headers']; body: Buffer }> {
  const maxBytes = o.maxBytes ?? 1024 * 1024 * 1024;
  return new Promise((resolve, reject) => {
    const fn = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = fn(
      url,
      {
        method: o.method ?? 'GET',
        headers: {
          ...(o.body
            ? { 'content-length': String(Buffer.isBuffer(o.body) ? o.body.length : o.body.size) }
            : {}),
          ...o.headers,
        },
        ...(url.protocol === 'https:' && o.ca?.length ? { ca: caList(o.ca) } : {}),
        timeout: o.timeoutMs ?? 60_000,
      },
      (res) => {
        collect(res, maxBytes, url.href).then(
          (body) => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }),
          reject,
        );
      },
    );
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (e) =>
      reject(
        new SealworkError('DOWNLOAD_FAILED', `Cannot reach ${url.href}: ${e.message}`, {
          hint: 'Check that the server is running and the URL is right.',
          details: { url: url.href },
          cause: e,
        }),
      ),
    );
    if (o.body && !Buffer.isBuffer(o.body))
      createReadStream(o.body.file)
        .on('error', (e) => req.destroy(e))
        .pipe(req);
    else req.end(o.body);
  });
}

/** Download a location (`http(s)://`, `file://`, IPFS through a gateway) into memory. */
export async function fetchBytes(location: string, o: FetchOptions = {}): Promise<Buffer> {
  const url = resolveLocation(location, o.ipfsGateway);
  const maxBytes = o.maxBytes ?? 1024 * 1024 * 1024;
  if (url.protocol === 'file:') {
    const path = fileURLToPath(url);
    await checkFileRoot(path, o.fileRoot, url.href);
    const st = await fs.stat(path).catch((e) => {
      throw new SealworkError('DOWNLOAD_FAILED', `Cannot read ${path}: ${(e as Error).message}`, {
        details: { url: url.href },
        cause: e,
      });
    });
    if (st.size > maxBytes)
      throw new SealworkError('DOWNLOAD_TOO_LARGE', `${path} is over ${maxBytes} bytes.`, {
        details: { url: url.href },
      });
    return fs.readFile(path);
  }
  let current = url;
  for (let hop = 0; hop < 5; hop++) {
    const r = await httpCall(current, o);
    if ([301, 302, 303, 307, 308].includes(r.status) && r.headers.location) {
      current = new URL(r.headers.location, current);
      continue;
    }
    if (r.status !== 200)
      throw new SealworkError('DOWNLOAD_FAILED', `Downloading ${current.href} answered HTTP ${r.status}.`, {
        hint: r.status === 404 ? 'The object does not exist at that URL.' : undefined,
        details: { url: current.href, status: r.status },
      });
    return r.body;
  }
  throw new SealworkError('DOWNLOAD_FAILED', `Too many redirects from ${url.href}.`, {
    details: { url: url.href },
  });
}

function tooLarge(url: string, maxBytes: number): SealworkError {
  return new SealworkError('DOWNLOAD_TOO_LARGE', `The download from ${url} is over ${maxBytes} bytes.`, {
    details: { url, maxBytes },
  });
}

/** One GET streamed into `dest`: the redirect to follow, or the body written (bounded). */
function getToFile(
  url: URL,
  dest: string,
  maxBytes: number,
  o: FetchOptions,
): Promise<{ redirect: URL } | { bytes: number; sha256: string }> {
  return new Promise((resolve, reject) => {
    const fn = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = fn(
      url,
      {
        method: 'GET',
        ...(url.protocol === 'https:' && o.ca?.length ? { ca: caList(o.ca) } : {}),
        timeout: o.timeoutMs ?? 60_000,
      },
      (res) => {
        const status = res.statusCode ?? 0;
        if ([301, 302, 303, 307, 308].includes(status) && res.headers.location) {
          res.resume();
          resolve({ redirect: new URL(res.headers.location, url) });
          return;
        }
        if (status !== 200) {
          res.resume();
          reject(
            new SealworkError('DOWNLOAD_FAILED', `Downloading ${url.href} answered HTTP ${status}.`, {
              hint: status === 404 ? 'The object does not exist at that URL.' : undefined,
              details: { url: url.href, status },
            }),
          );
          return;
        }
        // A declared length over the bound is refused before reading anything.
        const declared = Number(res.headers['content-length']);
        if (Number.isFinite(declared) && declared > maxBytes) {
          res.destroy();
          reject(tooLarge(url.href, maxBytes));
          return;
        }
        const hash = createHash('sha256');
        let bytes = 0;
        const count = new Transform({
          transform(chunk: Buffer, _enc, cb) {
            bytes += chunk.length;
            if (bytes > maxBytes) return cb(tooLarge(url.href, maxBytes));
            hash.update(chunk);
            cb(null, chunk);
          },
        });
        pipeline(res, count, createWriteStream(dest, { mode: 0o600 })).then(
          () => resolve({ bytes, sha256: hash.digest('hex') }),
          (e: unknown) => reject(e instanceof SealworkError ? e : downloadFailed(url, e)),
        );
      },
    );
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (e) => reject(downloadFailed(url, e)));
    req.end();
  });
}

function downloadFailed(url: URL, e: unknown): SealworkError {
  return new SealworkError('DOWNLOAD_FAILED', `Cannot download ${url.href}: ${(e as Error)?.message ?? e}`, {
    hint: 'Check that the server is running and the URL is right.',
    details: { url: url.href },
    cause: e,
  });
}

/**
 * Stream an `http(s)://` (or IPFS, through the gateway) location into the file `dest`, in
 * constant memory, refusing it (`DOWNLOAD_TOO_LARGE`) as soon as it passes `o.maxBytes` (default
 * 1 GiB) or declares a larger `content-length`. `dest` is removed on any failure. Returns the
 * size and the sha256 (hex) of what was written.
 */
export async function downloadToFile(
  location: string,
  dest: string,
  o: FetchOptions = {},
): Promise<{ bytes: number; sha256: string }> {
  const url = resolveLocation(location, o.ipfsGateway);
  if (url.protocol === 'file:')
    throw new SealworkError('URL_SCHEME_UNSUPPORTED', `Cannot download ${location}: not an http(s) URL.`, {
      hint: 'Use an http(s):// or IPFS location.',
    });
  const maxBytes = o.maxBytes ?? 1024 * 1024 * 1024;
  let current = url;
  try {
    for (let hop = 0; hop < 5; hop++) {
      const r = await getToFile(current, dest, maxBytes, o);
      if ('redirect' in r) {
        current = r.redirect;
        if (current.protocol !== 'http:' && current.protocol !== 'https:')
          throw new SealworkError(
            'URL_SCHEME_UNSUPPORTED',
            `${url.href} redirects to ${current.protocol} URL, which is not followed.`,
            { details: { url: url.href } },
          );
        continue;
      }
      return r;
    }
  } catch (e) {
    await fs.rm(dest, { force: true });
    throw e;
  }
  throw new SealworkError('DOWNLOAD_FAILED', `Too many redirects from ${url.href}.`, {
    details: { url: url.href },
  });
}
