import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, promises as fs } from 'node:fs';
import { request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import type { LookupFunction } from 'node:net';
import { request as httpsRequest } from 'node:https';
import { rootCertificates } from 'node:tls';
import { sep } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { SealworkError } from '../errors.js';
import { checkConnectedSocket, guardedLookup, type FetchGuard } from './egress.js';

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
  /**
   * Which addresses the download may connect to, on every hop (src/worker/egress.ts): public ones
   * plus the operator's allowlist. Undefined: any (a local user fetching for themselves); the
   * worker's dataset, input-file and app-image downloads always have one.
   */
  guard?: FetchGuard;
  /** Redirects followed at most (default 3); each is re-checked, and https → http is refused. */
  maxRedirects?: number;
}

/** Redirects a download follows by default. */
export const DEFAULT_MAX_REDIRECTS = 3;

const REDIRECT_STATUSES = [301, 302, 303, 307, 308];

/**
 * The next hop of a redirect from `from`: only to http(s), and never from https down to http
 * (`FETCH_REDIRECT_REFUSED`). The new hop goes through the same address guard as the first.
 */
function redirectTarget(from: URL, location: string, start: URL): URL {
  let next: URL;
  try {
    next = new URL(location, from);
  } catch (e) {
    throw new SealworkError(
      'FETCH_REDIRECT_REFUSED',
      `${from.href} redirects to ${location}, which is not a URL.`,
      {
        details: { url: start.href, from: from.href },
        cause: e,
      },
    );
  }
  if (next.protocol !== 'http:' && next.protocol !== 'https:')
    throw new SealworkError(
      'FETCH_REDIRECT_REFUSED',
      `${from.href} redirects to a ${next.protocol} URL, which is not followed.`,
      { details: { url: start.href, from: from.href, to: next.href } },
    );
  if (from.protocol === 'https:' && next.protocol === 'http:')
    throw new SealworkError(
      'FETCH_REDIRECT_REFUSED',
      `${from.href} redirects from https to http (${next.href}), which is not followed.`,
      { details: { url: start.href, from: from.href, to: next.href } },
    );
  return next;
}

function tooManyRedirects(start: URL, max: number): SealworkError {
  return new SealworkError('FETCH_TOO_MANY_REDIRECTS', `${start.href} redirects more than ${max} times.`, {
    details: { url: start.href, maxRedirects: max },
  });
}

/**
 * The request options that hold a request to `o.guard` (resolve-and-check `lookup`, a fresh
 * connection so that no pooled socket to another address is reused), and the hook that checks
 * the connected peer. Throws `FETCH_ADDRESS_REFUSED` for a forbidden IP literal.
 */
function guardOptions(url: URL, o: FetchOptions): { agent?: false; lookup?: LookupFunction } {
  if (!o.guard) return {};
  return { agent: false, ...guardedLookup(o.guard, url) };
}

const requestFor = (url: URL) => (url.protocol === 'https:' ? httpsRequest : httpRequest);

/** What every request of this module sets: the egress guard, the extra CAs for https, the timeout. */
function connectionOptions(url: URL, o: FetchOptions) {
  return {
    ...guardOptions(url, o),
    ...(url.protocol === 'https:' && o.ca?.length ? { ca: caList(o.ca) } : {}),
    timeout: o.timeoutMs ?? 60_000,
  };
}

function watchSocket(url: URL, o: FetchOptions, req: ClientRequest): void {
  const guard = o.guard;
  if (guard) req.on('socket', (socket) => checkConnectedSocket(guard, url, socket, (e) => req.destroy(e)));
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
    const req = requestFor(url)(
      url,
      {
        ...connectionOptions(url, o),
        method: o.method ?? 'GET',
        headers: {
          ...(o.body
            ? { 'content-length': String(Buffer.isBuffer(o.body) ? o.body.length : o.body.size) }
            : {}),
          ...o.headers,
        },
      },
      (res) => {
        collect(res, maxBytes, url.href).then(
          (body) => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }),
          reject,
        );
      },
    );
    watchSocket(url, o, req);
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (e) =>
      reject(
        e instanceof SealworkError
          ? e
          : new SealworkError('DOWNLOAD_FAILED', `Cannot reach ${url.href}: ${e.message}`, {
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
  const maxRedirects = o.maxRedirects ?? DEFAULT_MAX_REDIRECTS;
  let current = url;
  for (let hop = 0; hop <= maxRedirects; hop++) {
    const r = await httpCall(current, o);
    if (REDIRECT_STATUSES.includes(r.status) && r.headers.location) {
      current = redirectTarget(current, r.headers.location, url);
      continue;
    }
    if (r.status !== 200)
      throw new SealworkError('DOWNLOAD_FAILED', `Downloading ${current.href} answered HTTP ${r.status}.`, {
        hint: r.status === 404 ? 'The object does not exist at that URL.' : undefined,
        details: { url: current.href, status: r.status },
      });
    return r.body;
  }
  throw tooManyRedirects(url, maxRedirects);
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
): Promise<{ redirect: string } | { bytes: number; sha256: string }> {
  return new Promise((resolve, reject) => {
    const req = requestFor(url)(url, { ...connectionOptions(url, o), method: 'GET' }, (res) => {
      const status = res.statusCode ?? 0;
      if (REDIRECT_STATUSES.includes(status) && res.headers.location) {
        res.resume();
        resolve({ redirect: res.headers.location });
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
    });
    watchSocket(url, o, req);
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (e) => reject(e instanceof SealworkError ? e : downloadFailed(url, e)));
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
  const maxRedirects = o.maxRedirects ?? DEFAULT_MAX_REDIRECTS;
  let current = url;
  try {
    for (let hop = 0; hop <= maxRedirects; hop++) {
      const r = await getToFile(current, dest, maxBytes, o);
      if ('redirect' in r) {
        current = redirectTarget(current, r.redirect, url);
        continue;
      }
      return r;
    }
    throw tooManyRedirects(url, maxRedirects);
  } catch (e) {
    await fs.rm(dest, { force: true });
    throw e;
  }
}
