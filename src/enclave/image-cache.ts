/**
 * The verified image cache: unpacked protected images kept between runs, keyed by the image's
 * digest, the FSPF key and the FSPF tag. See docs/enclave.md, "Verified image cache".
 *
 * - A cached tree is owned by sealwork's own uid (root on a worker), never by a run's dedicated
 *   uid: folders 0755, files keep the modes the FSPF records (setuid/setgid bits dropped), the
 *   cache root and entries 0711 (the dedicated uid must traverse them to reach the tree bubblewrap
 *   binds read-only, but cannot list them). Entry records (entry.json) are 0600.
 * - Every use re-authenticates the cached FSPF with the run's key and tag and re-hashes every
 *   protected file (verifyRoot): a hit saves the unpack, not the hashing. A failed check removes
 *   the entry and the run falls back to a fresh unpack (the entry is rebuilt).
 * - Images with an encrypted region are not cached (their plaintext stays per run in /dev/shm).
 * - Least recently used entries are evicted when the cache outgrows its byte limit
 *   (`SEALWORK_IMAGE_CACHE_BYTES` or the `maxBytes` option; 0 or unset disables the cache).
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, promises as fs } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { SealworkError } from '../errors.js';
import { loadProtectedImage, type LoadedImage } from './build.js';
import { walkRoot, type FsKeys } from './fspf.js';
import { reachableByOthers } from './sandbox.js';
import { components, parseSize } from './util.js';

export interface ImageCacheOptions {
  /** Cache folder (default SEALWORK_IMAGE_CACHE_DIR, else /var/cache/sealwork/images as root, else ~/.sealwork/image-cache). */
  dir?: string;
  /** Size limit in bytes (default SEALWORK_IMAGE_CACHE_BYTES); 0 disables the cache. */
  maxBytes?: number;
}

/** What a run reports about the cache. */
export interface ImageCacheResult {
  /** True when the run used a cached tree that passed verification. */
  hit: boolean;
  /** True when a cached entry failed verification, was removed and the image unpacked again. */
  rebuilt: boolean;
  /** True when this run's tree is (now) in the cache. */
  stored: boolean;
  /** Why the image was not cached, when it was not. */
  reason?: string;
}

/** Folders the sandbox mounts over: made real empty folders in a cached tree once, at insertion. */
const MOUNT_POINTS = ['/proc', '/dev', '/tmp', '/iexec_in', '/iexec_out'];
const inUse = new Map<string, number>();

/** The cache settings, or undefined when the cache is disabled. */
export function resolveImageCache(
  opt?: ImageCacheOptions | false,
): { dir: string; maxBytes: number } | undefined {
  if (opt === false) return undefined;
  const env = process.env.SEALWORK_IMAGE_CACHE_BYTES;
  const maxBytes = opt?.maxBytes ?? (env && env !== '0' ? parseSize(env, 'SEALWORK_IMAGE_CACHE_BYTES') : 0);
  if (!maxBytes) return undefined;
  const root = process.geteuid?.() === 0;
  const dir =
    opt?.dir ??
    process.env.SEALWORK_IMAGE_CACHE_DIR ??
    (root
      ? '/var/cache/sealwork/images'
      : join(process.env.SEALWORK_HOME ?? join(homedir(), '.sealwork'), 'image-cache'));
  return { dir: resolve(dir), maxBytes };
}

async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** The image's identity: sha256 of an archive file, or of the top descriptor of an image folder (index.json / manifest.json, which name every blob by digest). */
async function imageDigest(image: string): Promise<string> {
  const st = await fs.stat(image);
  if (st.isFile()) return sha256File(image);
  for (const top of ['index.json', 'manifest.json']) {
    const data = await fs.readFile(join(image, top)).catch(() => null);
    if (data) return createHash('sha256').update(top).update(data).digest('hex');
  }
  return createHash('sha256').update(resolve(image)).digest('hex');
}

/** Create (or check) the cache folder: a real folder owned by us that no one else can write. */
async function openCacheDir(dir: string, dedicated: boolean): Promise<void> {
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  const st = await fs.lstat(dir);
  if (!st.isDirectory() || st.uid !== process.geteuid?.() || (st.mode & 0o022) !== 0)
    throw new SealworkError(
      'IMAGE_CACHE_UNSAFE',
      `The image cache folder ${dir} is not ours or others can write it.`,
      {
        hint: 'Fix its owner and mode (chown to the worker user; chmod 711), or set SEALWORK_IMAGE_CACHE_DIR.',
        details: { path: dir },
      },
    );
  // The run's dedicated uid must traverse (not list) the folder to reach the tree it binds.
  await fs.chmod(dir, dedicated ? 0o711 : 0o700);
}

/** Why a verified tree cannot be shared read-only with the sandbox's uid, if it cannot. */
async function unshareable(root: string): Promise<string | undefined> {
  for (const m of MOUNT_POINTS) {
    const st = await fs.lstat(join(root, ...components(m))).catch(() => null);
    if (st && !st.isDirectory()) return `${m} is not a folder in the image`;
  }
  for (const e of await walkRoot(root)) {
    if (e.type !== 'file') continue;
    const mode = (await fs.lstat(e.host)).mode & 0o7777;
    if ((mode & 0o004) === 0) return `${e.path} is not readable by others (mode ${mode.toString(8)})`;
  }
  return undefined;
}

/** Fit a verified tree for sharing: our uid, folders 0755, mount points made, no setuid/setgid. */
async function freeze(root: string): Promise<void> {
  const uid = process.geteuid?.() ?? 0;
  const gid = process.getegid?.() ?? 0;
  for (const m of MOUNT_POINTS) await fs.mkdir(join(root, ...components(m)), { mode: 0o755 }).catch(() => {});
  for (const e of await walkRoot(root)) {
    await fs.lchown(e.host, uid, gid);
    if (e.type === 'dir') await fs.chmod(e.host, 0o755);
    else if (e.type === 'file') {
      const mode = (await fs.lstat(e.host)).mode & 0o7777;
      if (mode & 0o6000) await fs.chmod(e.host, mode & 0o1777);
    }
  }
  await fs.lchown(root, uid, gid);
  await fs.chmod(root, 0o755);
}

async function treeBytes(root: string): Promise<number> {
  let n = 0;
  for (const e of await walkRoot(root)) if (e.type === 'file') n += (await fs.lstat(e.host)).size;
  return n;
}

async function removeEntry(dir: string, key: string): Promise<void> {
  const trash = join(dir, `.trash-${randomBytes(6).toString('hex')}`);
  await fs.rename(join(dir, key), trash).catch(() => {});
  await fs.rm(trash, { recursive: true, force: true });
}

/** Remove least recently used entries (by entry.json's mtime) until the cache fits; entries in use stay. */
export async function evictImageCache(dir: string, maxBytes: number): Promise<string[]> {
  const entries: { key: string; bytes: number; used: number }[] = [];
  for (const key of await fs.readdir(dir)) {
    if (!/^[0-9a-f]{64}$/.test(key)) continue;
    const rec = join(dir, key, 'entry.json');
    const st = await fs.stat(rec).catch(() => null);
    if (!st) continue;
    const bytes = Number(JSON.parse(await fs.readFile(rec, 'utf8')).bytes) || 0;
    entries.push({ key, bytes, used: st.mtimeMs });
  }
  let total = entries.reduce((s, e) => s + e.bytes, 0);
  const evicted: string[] = [];
  for (const e of entries.sort((a, b) => a.used - b.used)) {
    if (total <= maxBytes) break;
    if (inUse.get(e.key)) continue;
    await removeEntry(dir, e.key);
    total -= e.bytes;
    evicted.push(e.key);
  }
  return evicted;
}

type LoadParams = Parameters<typeof loadProtectedImage>[0] & {
  image: string;
  fspfKey: string;
  fspfTag: string;
  fsKeys?: FsKeys;
};

function holding(img: LoadedImage, key: string, extra: Partial<LoadedImage>): LoadedImage {
  inUse.set(key, (inUse.get(key) ?? 0) + 1);
  let released = false;
  return {
    ...img,
    ...extra,
    cleanup: async () => {
      if (!released) inUse.set(key, (inUse.get(key) ?? 1) - 1);
      released = true;
      await img.cleanup();
    },
  };
}

/** Put a freshly loaded image's tree in the cache; returns why not when it is not cached. */
async function store(
  cache: { dir: string; maxBytes: number },
  key: string,
  img: LoadedImage,
): Promise<string | undefined> {
  if (img.fspf.regions.some((r) => r.protection === 'encrypted')) return 'the image has encrypted regions';
  const bytes = await treeBytes(img.root);
  if (bytes > cache.maxBytes) return `the image (${bytes} bytes) exceeds the cache limit`;
  const why = await unshareable(img.root);
  if (why) return why;
  const tmp = join(cache.dir, `.new-${randomBytes(6).toString('hex')}`);
  await fs.mkdir(tmp, { mode: 0o711 });
  try {
    const root = join(tmp, 'root');
    await fs.rename(img.root, root).catch(async (e: NodeJS.ErrnoException) => {
      if (e.code !== 'EXDEV') throw e;
      await fs.cp(img.root, root, { recursive: true, verbatimSymlinks: true, preserveTimestamps: true });
    });
    await freeze(root);
    await fs.writeFile(join(tmp, 'entry.json'), JSON.stringify({ bytes, stored: new Date().toISOString() }), {
      mode: 0o600,
    });
    await fs.rename(tmp, join(cache.dir, key)).catch(() => {}); // a concurrent run stored it first
    return undefined;
  } finally {
    await fs.rm(tmp, { recursive: true, force: true });
  }
}

/**
 * Load a protected image through the cache: a verified cached tree when there is one (re-verified
 * now), else a fresh unpack, stored for later runs when it can be. Without a cache, a plain load.
 */
export async function loadImageCached(
  p: LoadParams,
  opt: { cache?: { dir: string; maxBytes: number }; dedicated: boolean },
): Promise<{ img: LoadedImage; cache: ImageCacheResult }> {
  const { cache } = opt;
  if (!cache)
    return {
      img: await loadProtectedImage(p),
      cache: { hit: false, rebuilt: false, stored: false, reason: 'disabled' },
    };
  if (opt.dedicated && !(await reachableByOthers(join(cache.dir, '..'))))
    return {
      img: await loadProtectedImage(p),
      cache: {
        hit: false,
        rebuilt: false,
        stored: false,
        reason: 'the cache folder is not reachable by the sandbox uid',
      },
    };
  await openCacheDir(cache.dir, opt.dedicated);
  const digest = await imageDigest(p.image).catch(() => undefined);
  // An unreadable image: the plain load reports it with its proper error.
  if (!digest)
    return { img: await loadProtectedImage(p), cache: { hit: false, rebuilt: false, stored: false } };
  const key = createHash('sha256').update(`${digest}\n${p.fspfKey}\n${p.fspfTag}`).digest('hex');
  const entry = join(cache.dir, key);
  let rebuilt = false;
  if (await fs.stat(join(entry, 'entry.json')).catch(() => null)) {
    try {
      const img = await loadProtectedImage({ ...p, unpacked: { stage: entry, root: join(entry, 'root') } });
      const now = new Date();
      await fs.utimes(join(entry, 'entry.json'), now, now).catch(() => {});
      return { img: holding(img, key, {}), cache: { hit: true, rebuilt: false, stored: true } };
    } catch {
      // The cached tree no longer matches its FSPF (or is unreadable): drop it, unpack afresh.
      await removeEntry(cache.dir, key);
      rebuilt = true;
    }
  }
  const img = await loadProtectedImage(p);
  let reason: string | undefined;
  try {
    reason = await store(cache, key, img);
  } catch (e) {
    await img.cleanup();
    throw e;
  }
  if (reason) return { img, cache: { hit: false, rebuilt, stored: false, reason } };
  const held = holding(img, key, { stage: entry, root: join(entry, 'root') });
  await evictImageCache(cache.dir, cache.maxBytes);
  return { img: held, cache: { hit: false, rebuilt, stored: true } };
}
