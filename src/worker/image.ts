/**
 * Where the worker takes an app image from: the app's on-chain `m_appMultiaddr`, which anyone who
 * deploys an app chooses. The worker reads, hashes and unpacks the image before the enclave
 * fingerprint is checked, so the location itself must be bounded (docs/worker.md, "Where app
 * images may come from"):
 *
 * - local paths and `file://` URLs only under the operator's image folder (`root`), resolved with
 *   realpath (no way out through `..` or symbolic links), and only a regular file (an archive) or
 *   an OCI layout folder holding only regular files and folders: never a device, FIFO or socket;
 * - `http(s)://` archives streamed into the worker's cache, refused as soon as they pass
 *   `maxBytes`; local images over `maxBytes` are refused before they are read;
 * - a zero on-chain checksum only when the operator allows it (`allowZeroChecksum`).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { createReadStream, promises as fs } from 'node:fs';
import { lookup } from 'node:dns/promises';
import { join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Hex } from 'viem';
import { SealworkError, isSealworkError } from '../errors.js';
import { parseImageRef, pullImage } from '../enclave/registry.js';
import { addressAllowed, addressRefused, isFetchRefusal, PUBLIC_ONLY } from './egress.js';
import { downloadToFile, type FetchOptions } from './fetch.js';

/** Default bound on an app image: its archive, or the files of its OCI layout folder (2 GiB). */
export const DEFAULT_MAX_APP_IMAGE_BYTES = 2 * 1024 ** 3;
/** Most files and folders an OCI layout folder given as an app image may hold. */
const MAX_LAYOUT_ENTRIES = 100_000;

export interface AppImagePolicy {
  /**
   * The operator's image folder: local paths and `file://` URLs are read only under it (symlinks
   * resolved). `false` or undefined: local app images are refused.
   */
  root?: string | false;
  /** Largest image accepted, downloaded or local (default 2 GiB). */
  maxBytes?: number;
  /** Accept an app whose on-chain checksum is zero, trusting the enclave fingerprint alone (default false). */
  allowZeroChecksum?: boolean;
  /** Registries (`host:port/name@sha256:…` images): extra CA certificates (`*.crt`) for their TLS. */
  registryCertDir?: string;
}

export interface AppImageOptions extends AppImagePolicy {
  /**
   * Downloads (extra CAs, timeout, the address guard: public addresses only unless given); its
   * `maxBytes` is replaced by the image bound.
   */
  fetch?: FetchOptions;
}

const ZERO32 = /^0x0{64}$/;

function within(path: string, base: string): boolean {
  return path === base || path.startsWith(base.endsWith(sep) ? base : base + sep);
}

function tooLarge(multiaddr: string, maxBytes: number, cause?: unknown): SealworkError {
  return new SealworkError('APP_IMAGE_TOO_LARGE', `The app image ${multiaddr} is over ${maxBytes} bytes.`, {
    hint: 'The worker operator can raise the bound with --max-image-size <size> (SEALWORK_MAX_APP_IMAGE_SIZE).',
    details: { image: multiaddr, maxBytes },
    cause,
  });
}

function notRegular(multiaddr: string, what: string): SealworkError {
  return new SealworkError(
    'APP_IMAGE_NOT_REGULAR',
    `The app image ${multiaddr} ${what}: an image must be a regular file (an archive) or an OCI layout folder of regular files.`,
    { details: { image: multiaddr } },
  );
}

/** Check an OCI layout folder: an index.json, only regular files and folders, bounded in size. */
async function checkLayoutDir(dir: string, multiaddr: string, maxBytes: number): Promise<void> {
  const index = await fs.lstat(join(dir, 'index.json')).catch(() => null);
  if (!index?.isFile()) throw notRegular(multiaddr, 'is a folder without an OCI index.json');
  let total = 0;
  let entries = 0;
  const walk = async (d: string): Promise<void> => {
    for (const e of await fs.readdir(d, { withFileTypes: true })) {
      if (++entries > MAX_LAYOUT_ENTRIES)
        throw notRegular(multiaddr, `holds more than ${MAX_LAYOUT_ENTRIES} files`);
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile()) {
        total += (await fs.lstat(p)).size;
        if (total > maxBytes) throw tooLarge(multiaddr, maxBytes);
      } else
        throw notRegular(
          multiaddr,
          `holds ${e.isSymbolicLink() ? 'a symbolic link' : 'a device, FIFO or socket'} (${p.slice(dir.length + 1)})`,
        );
    }
  };
  await walk(dir);
}

/**
 * A local image (`/path` or `file://`): inside the image folder after realpath, a regular file or
 * an OCI layout folder, within the size bound. Returns the resolved path (read from then on).
 */
async function localImage(
  multiaddr: string,
  path: string,
  root: string | false | undefined,
  maxBytes: number,
): Promise<string> {
  const refuse = () =>
    new SealworkError(
      'APP_IMAGE_PATH_REFUSED',
      root
        ? `This worker does not read the app image ${multiaddr}: local app images are read only under its image folder.`
        : `This worker does not read the app image ${multiaddr}: local app images are off.`,
      {
        hint: root
          ? `Put the image under ${root}, or deploy it at an http(s):// URL.`
          : 'Deploy the image at an http(s):// URL; a worker operator can allow a folder with --app-image-root <dir>.',
        details: { image: multiaddr },
      },
    );
  if (!root) throw refuse();
  const base = await fs.realpath(root).catch(() => {
    throw new SealworkError(
      'APP_IMAGE_ROOT_INVALID',
      `The worker's app image folder ${root} does not exist.`,
      {
        hint: 'Create it, or start the worker with another --app-image-root <dir>.',
        details: { root },
      },
    );
  });
  // Lexically first (nothing outside the folder is even looked at), then after resolving links.
  const lexical = resolve(path);
  if (!within(lexical, resolve(root)) && !within(lexical, base)) throw refuse();
  let real: string;
  try {
    real = await fs.realpath(lexical);
  } catch {
    throw new SealworkError(
      'APP_IMAGE_NOT_FOUND',
      `The app image ${multiaddr} does not exist on this worker.`,
      {
        details: { image: multiaddr },
      },
    );
  }
  if (!within(real, base)) throw refuse();
  const st = await fs.lstat(real);
  if (st.isFile()) {
    if (st.size > maxBytes) throw tooLarge(multiaddr, maxBytes);
  } else if (st.isDirectory()) await checkLayoutDir(real, multiaddr, maxBytes);
  else throw notRegular(multiaddr, 'is a device, FIFO or socket');
  return real;
}

/** Download an `http(s)://` image into the worker's cache (bounded), or reuse the cached copy. */
async function downloadedImage(
  home: string,
  multiaddr: string,
  checksum: Hex,
  maxBytes: number,
  fetch: FetchOptions,
): Promise<string> {
  const cache = join(home, 'worker', 'images');
  await fs.mkdir(cache, { recursive: true });
  // Keyed by URL and checksum: an app redeployed at the same URL with a new image is fetched anew.
  const name = createHash('sha256').update(`${multiaddr}\n${checksum.toLowerCase()}`).digest('hex');
  const path = join(cache, `${name}.tar`);
  const have = await fs.lstat(path).catch(() => undefined);
  if (have?.isFile() && have.size <= maxBytes) return path;
  if (have) await fs.rm(path, { recursive: true, force: true });
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.partial`;
  try {
    await downloadToFile(multiaddr, tmp, { ...fetch, guard: fetch.guard ?? PUBLIC_ONLY, maxBytes });
  } catch (e) {
    if (isSealworkError(e, 'DOWNLOAD_TOO_LARGE')) throw tooLarge(multiaddr, maxBytes, e);
    // The worker's own refusals (a non-public address, a bad redirect) keep their code: not retried.
    if (isFetchRefusal(e)) throw e;
    throw new SealworkError('APP_IMAGE_DOWNLOAD_FAILED', `Cannot download the app image ${multiaddr}.`, {
      cause: e,
    });
  }
  await fs.rename(tmp, path);
  return path;
}

/**
 * Locate the app image named on chain (downloading archives into the worker cache) under the
 * operator's policy, and check it against its on-chain checksum. Returns the path to read.
 */
export async function resolveAppImage(
  home: string,
  multiaddr: string,
  checksum: Hex,
  o: AppImageOptions = {},
): Promise<string> {
  const maxBytes = o.maxBytes ?? DEFAULT_MAX_APP_IMAGE_BYTES;
  if (ZERO32.test(checksum) && !o.allowZeroChecksum)
    throw new SealworkError(
      'APP_IMAGE_CHECKSUM_ZERO',
      `The app image ${multiaddr} has a zero on-chain checksum, and this worker requires one.`,
      {
        hint: 'Deploy the app with its image checksum (`sealwork app deploy` computes it for a local image); a worker operator can accept zero checksums with --allow-zero-checksum.',
        details: { image: multiaddr },
      },
    );
  let path: string;
  let downloaded = false;
  if (/^https?:\/\//.test(multiaddr)) {
    downloaded = true;
    path = await downloadedImage(home, multiaddr, checksum, maxBytes, o.fetch ?? {});
  } else if (parseImageRef(multiaddr)) {
    path = await pulledImage(home, multiaddr, maxBytes, o);
  } else if (multiaddr.startsWith('file:') || multiaddr.startsWith('/')) {
    let local: string;
    try {
      local = multiaddr.startsWith('file:') ? fileURLToPath(multiaddr) : multiaddr;
    } catch (e) {
      throw new SealworkError(
        'APP_IMAGE_UNSUPPORTED',
        `The app image location ${multiaddr} is not a local file URL.`,
        {
          hint: 'Use file:///<absolute path> (no host).',
          details: { image: multiaddr },
          cause: e,
        },
      );
    }
    path = await localImage(multiaddr, local, o.root, maxBytes);
  } else {
    throw new SealworkError(
      'APP_IMAGE_UNSUPPORTED',
      `The app image location ${multiaddr} is not supported.`,
      {
        hint: 'Deploy the app with a registry reference (<registry>/<name>@sha256:…), an OCI layout path, a file:// URL or an http(s):// archive URL.',
      },
    );
  }
  if (!ZERO32.test(checksum)) {
    const st = await fs.stat(path);
    const digest = await appImageDigests(path, st.isDirectory());
    const want = Buffer.from(checksum.slice(2).toLowerCase(), 'hex');
    if (!digest.some((d) => timingSafeEqual(Buffer.from(d, 'hex'), want))) {
      // A bad download is not kept: the next attempt fetches it again.
      if (downloaded) await fs.rm(path, { force: true });
      throw new SealworkError(
        'APP_IMAGE_CHECKSUM_MISMATCH',
        `The app image at ${multiaddr} does not match the on-chain checksum ${checksum}: it changed after deployment.`,
        { details: { image: multiaddr, expected: checksum, found: digest.map((d) => `0x${d}`) } },
      );
    }
  }
  return path;
}

async function treeBytes(dir: string): Promise<number> {
  let n = 0;
  for (const d of await fs.readdir(dir, { withFileTypes: true, recursive: true }))
    if (d.isFile())
      n += (await fs.stat(join(d.parentPath ?? (d as unknown as { path: string }).path, d.name))).size;
  return n;
}

/**
 * `<registry>/<name>@sha256:<digest>`: pulled with skopeo into `<home>/worker/images/oci-<digest>`
 * (kept: the next task with this digest reuses it after checking the manifest again), only from a
 * registry the download guard allows, and only when the manifest hashes to the reference's digest.
 * A reference without a digest (a tag alone, which its owner can move) is refused.
 */
async function pulledImage(
  home: string,
  multiaddr: string,
  maxBytes: number,
  o: AppImageOptions,
): Promise<string> {
  const ref = parseImageRef(multiaddr)!;
  if (!ref.digest)
    throw new SealworkError(
      'APP_IMAGE_UNSUPPORTED',
      `The app image ${multiaddr} names a tag, not a digest.`,
      {
        hint: 'Deploy the app with the reference `app push` printed: <registry>/<name>@sha256:… (a tag can be moved to another image).',
        details: { image: multiaddr },
      },
    );
  const hex = ref.digest.slice('sha256:'.length);
  const cacheDir = join(home, 'worker', 'images');
  const dir = join(cacheDir, `oci-${hex}`);
  if (
    (await fs.stat(join(dir, 'index.json')).catch(() => null)) &&
    (await appImageDigests(dir, true)).includes(hex)
  )
    return dir;
  const guard = o.fetch?.guard ?? PUBLIC_ONLY;
  const url = new URL(`https://${ref.registry}/`);
  const addresses = (await lookup(url.hostname.replace(/^\[|\]$/g, ''), { all: true }).catch(() => [])).map(
    (a) => a.address,
  );
  if (addresses.length === 0 || !addresses.every((a) => addressAllowed(guard, url, a)))
    throw addressRefused(url, addresses);
  await fs.mkdir(cacheDir, { recursive: true, mode: 0o700 });
  const tmp = join(cacheDir, `.pull-${randomBytes(6).toString('hex')}`);
  try {
    await pullImage({
      ref,
      out: tmp,
      access: { ...(o.registryCertDir ? { certDir: o.registryCertDir } : {}) },
    });
    if ((await treeBytes(tmp)) > maxBytes) throw tooLarge(multiaddr, maxBytes);
    if (!(await appImageDigests(tmp, true)).includes(hex))
      throw new SealworkError(
        'APP_IMAGE_DIGEST_MISMATCH',
        `The image pulled as ${multiaddr} does not hash to ${ref.digest}.`,
        { details: { image: multiaddr } },
      );
    await fs.rm(dir, { recursive: true, force: true });
    await fs.rename(tmp, dir);
    return dir;
  } finally {
    await fs.rm(tmp, { recursive: true, force: true });
  }
}

async function sha256Stream(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/**
 * Digests an image may be deployed with (iExec's app checksum): sha256 of an archive file; the
 * manifest digest of an OCI layout (whose manifest blob must really hash to it).
 */
export async function appImageDigests(path: string, isDir: boolean): Promise<string[]> {
  if (!isDir) return [await sha256Stream(path)];
  const index = JSON.parse(await fs.readFile(join(path, 'index.json'), 'utf8')) as {
    manifests?: { digest?: string }[];
  };
  const out: string[] = [];
  for (const m of index.manifests ?? []) {
    const d = /^sha256:([0-9a-f]{64})$/.exec(m.digest ?? '')?.[1];
    if (!d) continue;
    const blob = join(path, 'blobs', 'sha256', d);
    if ((await sha256Stream(blob).catch(() => undefined)) === d) out.push(d);
  }
  return out;
}

/**
 * The checksum to deploy an image with (`app deploy`): `0x` + sha256 of an archive file, or of the
 * first manifest of an OCI layout folder. What the worker compares with the on-chain checksum.
 */
export async function appImageChecksum(path: string): Promise<Hex> {
  const st = await fs.stat(path);
  const d = await appImageDigests(path, st.isDirectory());
  if (!d[0])
    throw new SealworkError(
      'IMAGE_INVALID',
      `${path} is not an image: no manifest of its index.json hashes to its digest.`,
      {
        hint: 'Give an OCI layout folder or an image archive.',
        details: { path },
      },
    );
  return `0x${d[0]}`;
}

/** sha256 over every file of an image (relative path and content), or of an archive file; streamed. */
export async function imageContentDigest(path: string): Promise<string> {
  const st = await fs.stat(path);
  if (!st.isDirectory()) return sha256Stream(path);
  const h = createHash('sha256');
  const walk = async (dir: string, rel: string): Promise<void> => {
    const entries = (await fs.readdir(dir, { withFileTypes: true })).sort((a, b) =>
      a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
    );
    for (const e of entries) {
      const r = `${rel}/${e.name}`;
      const p = join(dir, e.name);
      if (e.isDirectory()) await walk(p, r);
      else if (e.isSymbolicLink()) {
        const data = Buffer.from(`link:${await fs.readlink(p)}`);
        h.update(`${r}\0${data.length}\0`);
        h.update(data);
      } else if (e.isFile()) {
        h.update(`${r}\0${(await fs.lstat(p)).size}\0`);
        for await (const chunk of createReadStream(p)) h.update(chunk as Buffer);
      } else h.update(`${r}\0special\0`); // never opened: a FIFO would block
    }
  };
  await walk(path, '');
  return h.digest('hex');
}
