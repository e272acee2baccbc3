/**
 * Unpacking OCI layers into a root file system, safely.
 *
 * - Entry names are normalised; a `..` component is refused (LAYER_PATH_TRAVERSAL).
 * - Nothing is ever written through a symbolic link: every parent of an entry must be a real
 *   directory (LAYER_PATH_THROUGH_SYMLINK), and the host never follows links in the root.
 * - A relative link whose target climbs above the root is refused (LAYER_SYMLINK_ESCAPE).
 *   Absolute targets are kept: they are resolved against the image root (as in a container).
 * - Device files, FIFOs and sockets are refused (LAYER_SPECIAL_FILE).
 * - Whiteouts (`.wh.<name>`, `.wh..wh..opq`) remove entries of lower layers.
 * - Unpack limits (limits.ts) bound the bytes written, the expansion ratio and the number of
 *   files created; they are checked before each write, so a decompression bomb stops at once.
 */
import { createReadStream, promises as fs, type Stats } from 'node:fs';
import { join } from 'node:path';
import { pipeline, Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import tar from 'tar-stream';
import { SealworkError, type ErrorCode } from '../errors.js';
import { UnpackBudget, type UnpackLimits } from './unpack-limits.js';
import { components, imagePath } from './util.js';

const WH = '.wh.';
const OPAQUE = '.wh..wh..opq';

function layerError(code: ErrorCode, msg: string, path: string, layer: string): SealworkError {
  return new SealworkError(code, msg, {
    hint: 'The image is malformed or malicious; it was not unpacked. Rebuild it from a trusted source.',
    details: { path, layer },
  });
}

async function lstatOrNull(p: string): Promise<Stats | null> {
  try {
    return await fs.lstat(p);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR')
      return null;
    throw e;
  }
}

/**
 * Make sure every ancestor of `path` (an image path) is a real directory under `root`,
 * creating missing ones; refuse symbolic links on the way. Returns the host path of the parent.
 */
async function ensureParents(
  root: string,
  path: string,
  layer: string,
  budget?: UnpackBudget,
): Promise<string> {
  const parts = components(path);
  let host = root;
  for (const part of parts.slice(0, -1)) {
    host = join(host, part);
    const st = await lstatOrNull(host);
    if (st === null) {
      budget?.entry();
      await fs.mkdir(host, { mode: 0o755 });
    } else if (st.isSymbolicLink())
      throw layerError(
        'LAYER_PATH_THROUGH_SYMLINK',
        `Layer entry "${path}" would be written through the symbolic link "${host.slice(root.length)}".`,
        path,
        layer,
      );
    else if (!st.isDirectory()) {
      budget?.entry();
      await fs.rm(host, { force: true });
      await fs.mkdir(host, { mode: 0o755 });
    }
  }
  return host;
}

/** Where a link target points, as an image path; null when a relative target climbs above `/`. */
export function linkTargetInRoot(linkPath: string, target: string): string | null {
  const base = target.startsWith('/') ? [] : components(linkPath).slice(0, -1);
  for (const p of target.split('/')) {
    if (p === '' || p === '.') continue;
    if (p === '..') {
      if (base.length === 0) return null;
      base.pop();
    } else base.push(p);
  }
  return `/${base.join('/')}`;
}

/** The remove-before-write step: drop whatever is at `host` (a dir only if `dirToo`). */
async function clearPath(host: string, keepDir: boolean): Promise<Stats | null> {
  const st = await lstatOrNull(host);
  if (st === null) return null;
  if (st.isDirectory() && keepDir) return st;
  await fs.rm(host, { recursive: true, force: true });
  return null;
}

export interface UnpackLayerOptions {
  /** The layer's name in messages (default `layer`). */
  layer?: string;
  /**
   * The count to charge (shared by every layer of an image). Default: a new one with `limits`
   * and `inputBytes` (the compressed size of the layer, for the ratio; unchecked when unknown).
   */
  budget?: UnpackBudget;
  limits?: Partial<UnpackLimits>;
  inputBytes?: number;
}

/** What every entry of one layer is unpacked with. */
interface LayerContext {
  root: string;
  layer: string;
  budget: UnpackBudget;
  /** Image paths this layer created (an opaque whiteout keeps them). */
  created: Set<string>;
}

/** A tar entry as the extractor yields it: its header and its body. */
type Entry = ReturnType<typeof tar.extract> extends AsyncIterable<infer E> ? E : never;
type Header = Entry['header'];

/** `.wh..wh..opq`: empty the parent folder of what lower layers put there. */
async function applyOpaqueWhiteout(ctx: LayerContext, path: string, parentPath: string): Promise<void> {
  const parentHost = await ensureParents(ctx.root, path, ctx.layer, ctx.budget);
  for (const name of await fs.readdir(parentHost)) {
    const child = parentPath === '/' ? `/${name}` : `${parentPath}/${name}`;
    if (!ctx.created.has(child)) await fs.rm(join(parentHost, name), { recursive: true, force: true });
  }
}

/** `.wh.<name>`: remove `<name>` of a lower layer. */
async function applyWhiteout(ctx: LayerContext, path: string, base: string): Promise<void> {
  const victim = base.slice(WH.length);
  if (victim === '' || victim === '.' || victim === '..')
    throw layerError('LAYER_PATH_TRAVERSAL', `Invalid whiteout "${path}".`, path, ctx.layer);
  const parentHost = await ensureParents(ctx.root, path, ctx.layer, ctx.budget);
  await fs.rm(join(parentHost, victim), { recursive: true, force: true });
}

async function writeDirectory(host: string, mode: number): Promise<void> {
  const st = await clearPath(host, true);
  if (st === null) await fs.mkdir(host, { mode: 0o755 });
  await fs.chmod(host, mode | 0o700);
}

async function writeRegularFile(
  ctx: LayerContext,
  entry: Entry,
  path: string,
  host: string,
  mode: number,
): Promise<void> {
  // Charged before anything is written: tar-stream yields exactly the declared size.
  const size = entry.header.size ?? 0;
  ctx.budget.take(size);
  await clearPath(host, false);
  const fh = await fs.open(host, 'wx', 0o600);
  try {
    let got = 0;
    for await (const chunk of entry) {
      got += (chunk as Buffer).length;
      if (got > size) throw new Error(`entry "${path}" is longer than its header says`);
      await fh.write(chunk as Buffer);
    }
  } finally {
    await fh.close();
  }
  await fs.chmod(host, mode);
}

async function writeSymlink(ctx: LayerContext, h: Header, path: string, host: string): Promise<void> {
  const target = h.linkname ?? '';
  if (target === '' || linkTargetInRoot(path, target) === null)
    throw layerError(
      'LAYER_SYMLINK_ESCAPE',
      `Symbolic link "${path}" -> "${target}" points outside the image root.`,
      path,
      ctx.layer,
    );
  await clearPath(host, false);
  await fs.symlink(target, host);
}

/** A hard link becomes a copy of a regular file of the image (charged again to the budget). */
async function writeHardLink(ctx: LayerContext, h: Header, path: string, host: string): Promise<void> {
  const targetPath = imagePath(h.linkname ?? '', 'LAYER_PATH_TRAVERSAL');
  const targetParent = await ensureParents(ctx.root, targetPath, ctx.layer, ctx.budget);
  const targetHost = join(targetParent, components(targetPath).pop() ?? '');
  const st = await lstatOrNull(targetHost);
  if (!st || !st.isFile())
    throw layerError(
      'LAYER_HARDLINK_INVALID',
      `Hard link "${path}" -> "${targetPath}" does not point to a regular file of the image.`,
      path,
      ctx.layer,
    );
  if (targetHost !== host) {
    ctx.budget.take(st.size); // a copy: hard links must not multiply the budget
    await clearPath(host, false);
    await fs.copyFile(targetHost, host);
    await fs.chmod(host, st.mode & 0o1777);
  }
}

/** Write one non-whiteout entry at `path` (its parents already made real folders). */
async function writeEntry(ctx: LayerContext, entry: Entry, path: string, host: string): Promise<void> {
  const h = entry.header;
  const mode = (h.mode ?? 0o644) & 0o1777; // no setuid/setgid bits in the sandbox
  switch (h.type) {
    case 'directory':
      return writeDirectory(host, mode);
    case 'file':
    case 'contiguous-file':
    case undefined:
      return writeRegularFile(ctx, entry, path, host, mode);
    case 'symlink':
      return writeSymlink(ctx, h, path, host);
    case 'link':
      return writeHardLink(ctx, h, path, host);
    case 'character-device':
    case 'block-device':
    case 'fifo':
      throw layerError(
        'LAYER_SPECIAL_FILE',
        `Layer entry "${path}" is a ${h.type}; images may not carry device files or FIFOs.`,
        path,
        ctx.layer,
      );
    default:
      throw layerError(
        'LAYER_ENTRY_UNSUPPORTED',
        `Layer entry "${path}" has the unsupported type ${String(h.type)}.`,
        path,
        ctx.layer,
      );
  }
}

/** Apply one tar entry to the root; returns whether it counts as an entry (`/` itself does not). */
async function unpackEntry(ctx: LayerContext, entry: Entry): Promise<boolean> {
  // tar-stream gives a null size for a size field it cannot decode (e.g. a negative base-256
  // number), and such an entry's body then never ends: refuse it before reading anything.
  const size = entry.header.size;
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0)
    throw layerError(
      'LAYER_INVALID',
      `Layer entry "${entry.header.name}" has an unreadable size field.`,
      entry.header.name,
      ctx.layer,
    );
  const path = imagePath(entry.header.name, 'LAYER_PATH_TRAVERSAL');
  if (path === '/') return false;
  ctx.budget.entry();
  const parts = components(path);
  const base = parts[parts.length - 1]!;
  if (base === OPAQUE) await applyOpaqueWhiteout(ctx, path, `/${parts.slice(0, -1).join('/')}`);
  else if (base.startsWith(WH)) await applyWhiteout(ctx, path, base);
  else {
    const parentHost = await ensureParents(ctx.root, path, ctx.layer, ctx.budget);
    await writeEntry(ctx, entry, path, join(parentHost, base));
    ctx.created.add(path);
  }
  return true;
}

/**
 * Unpack one layer (a tar, gzip-compressed or not) onto `root`, within the unpack limits. On a
 * failure, what this layer already wrote stays in `root`: `unpackImage` empties it.
 */
export async function unpackLayer(
  source: Readable,
  root: string,
  opts: UnpackLayerOptions = {},
): Promise<{ entries: number; bytes: number }> {
  const layer = opts.layer ?? 'layer';
  const budget = opts.budget ?? new UnpackBudget(layer, opts.limits, opts.inputBytes);
  const bytesBefore = budget.bytes;
  const extract = tar.extract();
  const ctx: LayerContext = { root, layer, budget, created: new Set() };
  let entries = 0;

  source.on('error', (e) => extract.destroy(e));
  source.pipe(extract);
  try {
    for await (const entry of extract) {
      try {
        if (await unpackEntry(ctx, entry)) entries++;
      } finally {
        entry.resume();
      }
    }
  } catch (e) {
    extract.destroy();
    source.destroy();
    if (e instanceof SealworkError) throw e;
    throw new SealworkError('LAYER_INVALID', `Cannot unpack ${layer}: ${(e as Error).message}`, {
      hint: 'The layer is not a valid (gzip) tar archive.',
      details: { layer },
      cause: e,
    });
  }
  return { entries, bytes: budget.bytes - bytesBefore };
}

/** Open a layer blob as an uncompressed tar stream (gzip detected by its magic bytes). */
export async function openLayerFile(path: string): Promise<Readable> {
  const fh = await fs.open(path, 'r');
  const magic = Buffer.alloc(4);
  await fh.read(magic, 0, 4, 0);
  await fh.close();
  const raw = createReadStream(path);
  // pipeline: destroying the returned stream (a refused layer) closes the file too.
  if (magic[0] === 0x1f && magic[1] === 0x8b) return pipeline(raw, createGunzip(), () => {});
  if (magic.readUInt32LE(0) === 0xfd2fb528)
    throw new SealworkError(
      'IMAGE_UNSUPPORTED',
      `Layer ${path} is zstd-compressed, which is not supported.`,
      {
        hint: 'Export the image with gzip or uncompressed layers (e.g. `docker save`).',
        details: { path },
      },
    );
  return raw;
}

/** Unpack a tar buffer (tests and small layers). */
export function unpackLayerBuffer(
  buf: Buffer,
  root: string,
  layer?: string,
  limits?: Partial<UnpackLimits>,
): Promise<{ entries: number; bytes: number }> {
  return unpackLayer(Readable.from([buf]), root, { layer, ...(limits ? { limits } : {}) });
}
