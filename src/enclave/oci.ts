/**
 * OCI images on disk: an OCI image layout folder (`oci-layout`, `index.json`, `blobs/sha256/…`),
 * or a tar archive of one (`docker save` output, old or new format, or an OCI archive).
 * Registry pulls are out of scope.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, promises as fs } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import tar from 'tar-stream';
import { SealworkError, fsError, type ErrorCode } from '../errors.js';
import { UnpackBudget, type UnpackLimits } from './unpack-limits.js';
import { linkTargetInRoot, openLayerFile, unpackLayer } from './unpack.js';
import { components, imagePath } from './util.js';

export const MT_INDEX = 'application/vnd.oci.image.index.v1+json';
export const MT_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const MT_CONFIG = 'application/vnd.oci.image.config.v1+json';
export const MT_LAYER = 'application/vnd.oci.image.layer.v1.tar';
const DOCKER_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';

/** The image config fields sealwork reads (OCI image config / Docker config). */
export interface ImageConfigJson {
  architecture?: string;
  os?: string;
  config?: {
    Env?: string[];
    Entrypoint?: string[] | null;
    Cmd?: string[] | null;
    WorkingDir?: string;
    Labels?: Record<string, string>;
    User?: string;
  };
  rootfs?: { type: string; diff_ids: string[] };
  history?: unknown[];
  [k: string]: unknown;
}

export interface OpenedImage {
  /** `oci-layout` (folder or archive of one) or `docker-archive` (old `docker save` format). */
  format: 'oci-layout' | 'docker-archive';
  /** The path given. */
  source: string;
  config: ImageConfigJson;
  /** Layer blobs, bottom first. */
  layers: { path: string; digest?: string }[];
  /** The unpack limits given to `openImage` (`unpackImage` uses them unless given others). */
  limits?: Partial<UnpackLimits>;
  /** Remove the temporary extraction of an archive (no-op for a folder). */
  cleanup(): Promise<void>;
}

function imageError(
  code: ErrorCode,
  msg: string,
  path: string,
  hint: string,
  cause?: unknown,
): SealworkError {
  return new SealworkError(code, msg, { hint, details: { path }, cause });
}

async function readJson(path: string, what: string): Promise<any> {
  let text: string;
  try {
    text = await fs.readFile(path, 'utf8');
  } catch (e) {
    throw fsError(e, path, `read ${what}`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw imageError(
      'IMAGE_INVALID',
      `${what} ${path} is not valid JSON.`,
      path,
      'The image is corrupted.',
      e,
    );
  }
}

export async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

function blobPath(dir: string, digest: string): string {
  const m = /^sha256:([0-9a-f]{64})$/.exec(String(digest));
  if (!m)
    throw imageError(
      'IMAGE_INVALID',
      `Unsupported blob digest "${digest}".`,
      dir,
      'Only sha256 digests are supported.',
    );
  return join(dir, 'blobs', 'sha256', m[1]!);
}

/**
 * Write a tar entry's body to a new file. Read with `for await`, not `pipeline`: an entry whose
 * archive ended early may already be destroyed when it is reached, and `pipeline` never settles
 * on a destroyed tar-stream entry (found by `npm run fuzz`: a truncated archive hung `openImage`),
 * whereas iterating it throws.
 */
async function writeEntryBody(entry: AsyncIterable<unknown>, host: string): Promise<void> {
  const fh = await fs.open(host, 'wx');
  try {
    for await (const chunk of entry) await fh.write(chunk as Buffer);
  } finally {
    await fh.close();
  }
}

/**
 * Extract an image archive (only plain files and folders; links to earlier entries are copied),
 * within the unpack limits (a tar is not compressed, but copied links could multiply it).
 */
async function extractArchive(archive: string, dest: string, budget: UnpackBudget): Promise<void> {
  const extract = tar.extract();
  const links: { path: string; target: string }[] = [];
  const dirs = new Set<string>();
  /** mkdir -p, charging each folder created. */
  const mkdirs = async (rel: string[]) => {
    for (let i = 1; i <= rel.length; i++) {
      const key = rel.slice(0, i).join('/');
      if (dirs.has(key)) continue;
      budget.entry();
      dirs.add(key);
      await fs.mkdir(join(dest, ...rel.slice(0, i)), { recursive: true });
    }
  };
  const src = createReadStream(archive);
  src.on('error', (e) => extract.destroy(e));
  src.pipe(extract);
  try {
    for await (const entry of extract) {
      const h = entry.header;
      try {
        // An undecodable size field (null from tar-stream): the entry's body would never end.
        if (typeof h.size !== 'number' || !Number.isSafeInteger(h.size) || h.size < 0)
          throw imageError(
            'IMAGE_INVALID',
            `Image archive entry "${h.name}" has an unreadable size field.`,
            archive,
            'The archive is corrupted.',
          );
        const p = imagePath(h.name, 'IMAGE_PATH_TRAVERSAL');
        if (p === '/') continue;
        const parts = components(p);
        const host = join(dest, ...parts);
        if (h.type === 'directory') await mkdirs(parts);
        else if (h.type === 'file' || h.type === 'contiguous-file' || !h.type) {
          await mkdirs(parts.slice(0, -1));
          budget.entry();
          budget.take(h.size); // before writing: tar-stream yields exactly the declared size
          await writeEntryBody(entry, host);
        } else if (h.type === 'symlink' || h.type === 'link') {
          const t = h.linkname ?? '';
          const target = h.type === 'link' ? imagePath(t, 'IMAGE_PATH_TRAVERSAL') : linkTargetInRoot(p, t);
          if (target === null)
            throw imageError(
              'IMAGE_PATH_TRAVERSAL',
              `Image archive link "${p}" points outside the archive.`,
              archive,
              'The archive is malformed or malicious.',
            );
          budget.entry();
          links.push({ path: host, target: join(dest, ...components(target)) });
        } else
          throw imageError(
            'IMAGE_INVALID',
            `Image archive entry "${p}" has the unexpected type ${h.type}.`,
            archive,
            'Give an OCI layout or `docker save` archive.',
          );
      } finally {
        entry.resume();
      }
    }
  } catch (e) {
    src.destroy();
    if (e instanceof SealworkError) throw e;
    throw imageError(
      'IMAGE_INVALID',
      `Cannot read image archive ${archive}: ${(e as Error).message}`,
      archive,
      'Give an OCI layout folder or a tar archive of one (`docker save`).',
      e,
    );
  }
  for (const l of links) {
    await mkdirs(components(dirname(l.path).slice(dest.length)));
    const st = await fs.lstat(l.target).catch(() => null);
    if (!st?.isFile())
      throw imageError(
        'IMAGE_INVALID',
        `Image archive link ${basename(l.path)} points to a missing file.`,
        archive,
        'The archive is corrupted.',
      );
    budget.take(st.size); // a copy
    await fs.copyFile(l.target, l.path);
  }
}

function pickManifest(index: any, where: string): any {
  const ms: any[] = Array.isArray(index?.manifests) ? index.manifests : [];
  if (ms.length === 0)
    throw imageError(
      'IMAGE_INVALID',
      `The image index ${where} lists no manifest.`,
      where,
      'The image is empty or corrupted.',
    );
  const linux = ms.filter(
    (m) =>
      !m.platform || (m.platform.os === 'linux' && ['amd64', 'x86_64'].includes(m.platform.architecture)),
  );
  return linux[0] ?? ms[0];
}

/**
 * Open an image folder or archive. Archives are extracted under `workDir` (removed by `cleanup`,
 * and at once on a failure), within the unpack limits (`opts.limits`, else `SEALWORK_UNPACK_*`,
 * else the defaults of limits.ts).
 */
export async function openImage(
  source: string,
  opts: { workDir: string; limits?: Partial<UnpackLimits> },
): Promise<OpenedImage> {
  let st;
  try {
    st = await fs.stat(source);
  } catch (e) {
    throw fsError(e, source, 'open image');
  }
  let dir = source;
  let cleanup = async () => {};
  if (st.isFile()) {
    dir = await fs.mkdtemp(join(opts.workDir, 'sealwork-archive-'));
    cleanup = () => fs.rm(dir, { recursive: true, force: true });
    try {
      await extractArchive(source, dir, new UnpackBudget(`image archive ${source}`, opts.limits, st.size));
    } catch (e) {
      await cleanup();
      throw e;
    }
  }
  try {
    const has = async (n: string) =>
      fs.access(join(dir, n)).then(
        () => true,
        () => false,
      );
    if (await has('index.json')) {
      let desc = pickManifest(await readJson(join(dir, 'index.json'), 'image index'), source);
      for (let depth = 0; desc.mediaType === MT_INDEX || desc.mediaType === DOCKER_LIST; depth++) {
        if (depth > 4)
          throw imageError(
            'IMAGE_INVALID',
            'Image indexes nest too deeply.',
            source,
            'The image is corrupted.',
          );
        desc = pickManifest(await readJson(blobPath(dir, desc.digest), 'image index'), source);
      }
      const manifest = await readJson(blobPath(dir, desc.digest), 'image manifest');
      if (!manifest?.config?.digest || !Array.isArray(manifest.layers))
        throw imageError(
          'IMAGE_INVALID',
          `The image manifest in ${source} has no config or layers.`,
          source,
          'The image is corrupted.',
        );
      const config = await readJson(blobPath(dir, manifest.config.digest), 'image config');
      const layers = (manifest.layers as any[]).map((l) => ({
        path: blobPath(dir, l.digest),
        digest: String(l.digest),
      }));
      return {
        format: 'oci-layout',
        source,
        config,
        layers,
        cleanup,
        ...(opts.limits ? { limits: opts.limits } : {}),
      };
    }
    if (await has('manifest.json')) {
      const m = await readJson(join(dir, 'manifest.json'), 'docker manifest');
      const entry = Array.isArray(m) ? m[0] : undefined;
      if (!entry?.Config || !Array.isArray(entry.Layers))
        throw imageError(
          'IMAGE_INVALID',
          `manifest.json in ${source} has no Config or Layers.`,
          source,
          'Give a `docker save` archive.',
        );
      const rel = (p: string) => join(dir, ...components(imagePath(p, 'IMAGE_PATH_TRAVERSAL')));
      const config = await readJson(rel(entry.Config), 'image config');
      const layers = (entry.Layers as string[]).map((p) => {
        const d = /blobs\/sha256\/([0-9a-f]{64})$/.exec(p);
        return { path: rel(p), ...(d ? { digest: `sha256:${d[1]}` } : {}) };
      });
      return {
        format: 'docker-archive',
        source,
        config,
        layers,
        cleanup,
        ...(opts.limits ? { limits: opts.limits } : {}),
      };
    }
    throw imageError(
      'IMAGE_INVALID',
      `${source} is not an OCI image: no index.json nor manifest.json.`,
      source,
      'Give an OCI image layout folder, or a tar archive from `docker save`.',
    );
  } catch (e) {
    await cleanup();
    throw e;
  }
}

/**
 * Unpack every layer of an opened image onto `root` (bottom first), checking blob digests, within
 * the unpack limits, counted over all the layers together (the ratio against the sum of the layer
 * blobs' sizes). On any failure `root` is emptied: no partial image stays behind.
 */
export async function unpackImage(
  img: OpenedImage,
  root: string,
  opts: { limits?: Partial<UnpackLimits> } = {},
): Promise<void> {
  try {
    await unpackLayers(img, root, opts.limits ?? img.limits);
  } catch (e) {
    const names = await fs.readdir(root).catch(() => [] as string[]);
    for (const n of names) await fs.rm(join(root, n), { recursive: true, force: true }).catch(() => {});
    throw e;
  }
}

async function unpackLayers(img: OpenedImage, root: string, limits?: Partial<UnpackLimits>): Promise<void> {
  let input = 0;
  for (const l of img.layers) {
    const st = await fs.stat(l.path).catch((e) => {
      throw fsError(e, l.path, 'read layer');
    });
    input += st.size;
  }
  const budget = new UnpackBudget(`the layers of ${img.source}`, limits, input);
  for (const [i, l] of img.layers.entries()) {
    const name = l.digest ?? `layer ${i}`;
    if (l.digest) {
      const got = await sha256File(l.path).catch((e) => {
        throw fsError(e, l.path, 'read layer');
      });
      if (`sha256:${got}` !== l.digest)
        throw imageError(
          'IMAGE_DIGEST_MISMATCH',
          `Layer blob ${l.digest} does not match its digest (found sha256:${got}).`,
          l.path,
          'The image is corrupted or was tampered with.',
        );
    }
    await unpackLayer(await openLayerFile(l.path), root, { layer: name, budget });
  }
}

// ---------------------------------------------------------------------------------- writing

export interface LayerBlob {
  /** The uncompressed layer tar (digest = diff id). */
  path: string;
  digest: string;
  size: number;
}

/** Write a tar layer to `path` through tar-stream; returns digest and size. */
export async function writeLayer(path: string, fill: (pack: tar.Pack) => Promise<void>): Promise<LayerBlob> {
  const pack = tar.pack();
  const hash = createHash('sha256');
  let size = 0;
  pack.on('data', (c: unknown) => {
    hash.update(c as Buffer);
    size += (c as Buffer).length;
  });
  const out = createWriteStream(path, { flags: 'wx' });
  const done = new Promise<void>((res, rej) => {
    pack.on('error', rej);
    out.on('error', rej);
    out.on('finish', res);
  });
  pack.pipe(out);
  try {
    await fill(pack);
    pack.finalize();
    await done;
  } catch (e) {
    pack.destroy();
    await done.catch(() => {});
    throw e;
  }
  return { path, digest: `sha256:${hash.digest('hex')}`, size };
}

export type TarHeader = Partial<tar.Header> & { name: string };

/** Add one entry to a pack, streaming a file body when `file` is given. */
export async function packEntry(
  pack: tar.Pack,
  header: TarHeader,
  body?: { file: string } | { data: Buffer },
): Promise<void> {
  const h: TarHeader = { uid: 0, gid: 0, uname: '', gname: '', mtime: new Date(0), ...header };
  if (!body) {
    await new Promise<void>((res, rej) => pack.entry(h, (e) => (e ? rej(e) : res())));
    return;
  }
  if ('data' in body) {
    await new Promise<void>((res, rej) =>
      pack.entry({ ...h, size: body.data.length }, body.data, (e) => (e ? rej(e) : res())),
    );
    return;
  }
  const st = await fs.stat(body.file);
  let sink!: ReturnType<tar.Pack['entry']>;
  const done = new Promise<void>((res, rej) => {
    sink = pack.entry({ ...h, size: st.size }, (e) => (e ? rej(e) : res()));
  });
  let written = 0;
  for await (const chunk of createReadStream(body.file)) {
    written += (chunk as Buffer).length;
    if (!sink.write(chunk)) await new Promise<void>((r) => sink.once('drain', () => r()));
  }
  if (written !== st.size) throw new Error(`${body.file} changed size while being packed`);
  (sink as unknown as { end(): void }).end();
  await done;
}

/** Rename, or copy then remove across file systems. */
export async function moveFile(from: string, to: string): Promise<void> {
  try {
    await fs.rename(from, to);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EXDEV') throw e;
    await fs.copyFile(from, to);
    await fs.rm(from, { force: true });
  }
}

/**
 * Write an OCI image: a layout folder, or (when `out` ends in `.tar`) an archive holding the same
 * layout plus a `manifest.json` so that `docker load` accepts it too.
 */
export async function writeOciImage(p: {
  out: string;
  config: ImageConfigJson;
  layers: LayerBlob[];
  annotations?: Record<string, string>;
  workDir: string;
}): Promise<{ manifestDigest: string }> {
  const archive = p.out.endsWith('.tar');
  const dir = archive ? await fs.mkdtemp(join(p.workDir, 'sealwork-out-')) : p.out;
  try {
    await fs.mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
    const putJson = async (obj: unknown) => {
      const data = Buffer.from(JSON.stringify(obj));
      const hex = createHash('sha256').update(data).digest('hex');
      await fs.writeFile(join(dir, 'blobs', 'sha256', hex), data);
      return { digest: `sha256:${hex}`, size: data.length };
    };
    for (const l of p.layers) await moveFile(l.path, blobPath(dir, l.digest));
    const config = {
      ...p.config,
      rootfs: { type: 'layers', diff_ids: p.layers.map((l) => l.digest) },
    };
    const cfg = await putJson(config);
    const manifest = {
      schemaVersion: 2,
      mediaType: MT_MANIFEST,
      config: { mediaType: MT_CONFIG, ...cfg },
      layers: p.layers.map((l) => ({ mediaType: MT_LAYER, digest: l.digest, size: l.size })),
      ...(p.annotations ? { annotations: p.annotations } : {}),
    };
    const man = await putJson(manifest);
    await fs.writeFile(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    await fs.writeFile(
      join(dir, 'index.json'),
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MT_INDEX,
        manifests: [{ mediaType: MT_MANIFEST, ...man }],
      }),
    );
    if (archive) {
      const hexOf = (d: string) => d.slice('sha256:'.length);
      await fs.writeFile(
        join(dir, 'manifest.json'),
        JSON.stringify([
          {
            Config: `blobs/sha256/${hexOf(cfg.digest)}`,
            RepoTags: null,
            Layers: p.layers.map((l) => `blobs/sha256/${hexOf(l.digest)}`),
          },
        ]),
      );
      const tmp = `${p.out}.partial`;
      const files = ['oci-layout', 'index.json', 'manifest.json'];
      for (const name of (await fs.readdir(join(dir, 'blobs', 'sha256'))).sort())
        files.push(`blobs/sha256/${name}`);
      await writeLayer(tmp, async (pack) => {
        await packEntry(pack, { name: 'blobs/', type: 'directory', mode: 0o755 });
        await packEntry(pack, { name: 'blobs/sha256/', type: 'directory', mode: 0o755 });
        for (const f of files)
          await packEntry(pack, { name: f, type: 'file', mode: 0o644 }, { file: join(dir, f) });
      }).catch(async (e) => {
        await fs.rm(tmp, { force: true });
        throw e;
      });
      await fs.rename(tmp, p.out);
    }
    return { manifestDigest: man.digest };
  } finally {
    if (archive) await fs.rm(dir, { recursive: true, force: true });
  }
}
