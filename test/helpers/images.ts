/**
 * Small OCI test images built on the fly (no registry): Debian's busybox-static `/bin/busybox`
 * plus scripts, or the running Node.js binary with its shared libraries. Layers are written with
 * tar-stream exactly as given, so tests can also build malicious layers (`../` names, links out
 * of the root, device files).
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, promises as fs, readFileSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import tar from 'tar-stream';

export const BUSYBOX = '/bin/busybox';

/** Applets linked to busybox in test images. */
export const BUSYBOX_APPLETS = [
  'sh',
  'cat',
  'echo',
  'ls',
  'sleep',
  'sha256sum',
  'wc',
  'nc',
  'wget',
  'id',
  'env',
  'mkdir',
  'touch',
  'rm',
  'head',
  'printf',
  'true',
  'false',
  'grep',
  'test',
  'dd',
  'find',
  'stat',
  'tr',
];

export function hasBusybox(): boolean {
  return existsSync(BUSYBOX);
}

export function hasBwrap(): boolean {
  try {
    execFileSync('bwrap', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** One entry of a test layer. `name` is written verbatim (no leading slash needed). */
export interface LayerEntry {
  name: string;
  type?: 'file' | 'directory' | 'symlink' | 'link' | 'character-device' | 'block-device' | 'fifo';
  /** File content (string or bytes), or `from`: a host file to copy. */
  data?: string | Buffer;
  from?: string;
  mode?: number;
  /** Target of a symlink or hard link. */
  linkname?: string;
}

/** An uncompressed tar layer holding exactly `entries`. */
export async function layerTar(entries: LayerEntry[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c: unknown) => chunks.push(c as Buffer));
  const ended = new Promise<void>((res, rej) => {
    pack.on('end', () => res());
    pack.on('error', rej);
  });
  for (const e of entries) {
    const type = e.type ?? 'file';
    const body = e.from ? readFileSync(e.from) : e.data !== undefined ? Buffer.from(e.data) : undefined;
    const header = {
      name: e.name,
      type,
      mode: e.mode ?? (type === 'directory' ? 0o755 : type === 'symlink' ? 0o777 : 0o644),
      mtime: new Date(0),
      uid: 0,
      gid: 0,
      ...(e.linkname !== undefined ? { linkname: e.linkname } : {}),
      ...(type === 'character-device' || type === 'block-device' ? { devmajor: 1, devminor: 3 } : {}),
    };
    await new Promise<void>((res, rej) => {
      if (type === 'file')
        pack.entry({ ...header, size: body?.length ?? 0 }, body ?? Buffer.alloc(0), (err) =>
          err ? rej(err) : res(),
        );
      else pack.entry(header, (err) => (err ? rej(err) : res()));
    });
  }
  pack.finalize();
  await ended;
  return Buffer.concat(chunks);
}

export interface TestImageConfig {
  Env?: string[];
  Entrypoint?: string[];
  Cmd?: string[];
  WorkingDir?: string;
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/**
 * Write an OCI image from layers (bottom first).
 * format: `oci` (layout folder, default), `oci-tar` (tar of the layout), `docker-tar` (old
 * `docker save` format: manifest.json + <id>/layer.tar). `gzip` compresses layers (oci formats).
 */
export async function writeImage(
  out: string,
  layers: Buffer[],
  opts: { config?: TestImageConfig; format?: 'oci' | 'oci-tar' | 'docker-tar'; gzip?: boolean } = {},
): Promise<string> {
  const format = opts.format ?? 'oci';
  const config = {
    architecture: 'amd64',
    os: 'linux',
    config: {
      Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
      ...(opts.config ?? {}),
    },
    rootfs: { type: 'layers', diff_ids: layers.map((l) => `sha256:${sha(l)}`) },
  };
  const files: LayerEntry[] = [];
  const configBuf = Buffer.from(JSON.stringify(config));
  if (format === 'docker-tar') {
    const layerNames = layers.map((l) => `${sha(l)}/layer.tar`);
    files.push({ name: `${sha(configBuf)}.json`, data: configBuf });
    layers.forEach((l, i) => files.push({ name: layerNames[i]!, data: l }));
    files.push({
      name: 'manifest.json',
      data: JSON.stringify([
        { Config: `${sha(configBuf)}.json`, RepoTags: ['test:latest'], Layers: layerNames },
      ]),
    });
  } else {
    const blobs = layers.map((l) => (opts.gzip ? gzipSync(l) : l));
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: {
          mediaType: 'application/vnd.oci.image.config.v1+json',
          digest: `sha256:${sha(configBuf)}`,
          size: configBuf.length,
        },
        layers: blobs.map((b) => ({
          mediaType: `application/vnd.oci.image.layer.v1.tar${opts.gzip ? '+gzip' : ''}`,
          digest: `sha256:${sha(b)}`,
          size: b.length,
        })),
      }),
    );
    for (const b of [configBuf, manifest, ...blobs]) files.push({ name: `blobs/sha256/${sha(b)}`, data: b });
    files.push({ name: 'oci-layout', data: JSON.stringify({ imageLayoutVersion: '1.0.0' }) });
    files.push({
      name: 'index.json',
      data: JSON.stringify({
        schemaVersion: 2,
        manifests: [
          {
            mediaType: 'application/vnd.oci.image.manifest.v1+json',
            digest: `sha256:${sha(manifest)}`,
            size: manifest.length,
          },
        ],
      }),
    });
  }
  if (format === 'oci') {
    for (const f of files) {
      const p = join(out, f.name);
      await fs.mkdir(join(p, '..'), { recursive: true });
      await fs.writeFile(p, f.data!);
    }
  } else await fs.writeFile(out, await layerTar(files));
  return out;
}

/** The layer entries of a busybox root: /bin/busybox, applet links, /tmp, /etc/passwd. */
export function busyboxEntries(): LayerEntry[] {
  return [
    { name: 'bin/', type: 'directory' },
    { name: 'bin/busybox', from: BUSYBOX, mode: 0o755 },
    ...BUSYBOX_APPLETS.map((a) => ({ name: `bin/${a}`, type: 'symlink' as const, linkname: 'busybox' })),
    { name: 'etc/', type: 'directory' },
    { name: 'etc/passwd', data: 'root:x:0:0:root:/root:/bin/sh\n' },
    { name: 'tmp/', type: 'directory', mode: 0o1777 },
  ];
}

/**
 * A busybox image: layer 1 = busybox root, layer 2 = `files` (e.g. `{ name: 'app/run.sh', data:
 * '#!/bin/sh\n…', mode: 0o755 }`). Returns the image path.
 */
export async function busyboxImage(
  out: string,
  files: LayerEntry[] = [],
  opts: { config?: TestImageConfig; format?: 'oci' | 'oci-tar' | 'docker-tar'; gzip?: boolean } = {},
): Promise<string> {
  const layers = [await layerTar(busyboxEntries())];
  if (files.length > 0) layers.push(await layerTar(files));
  return writeImage(out, layers, opts);
}

/**
 * A Node.js image: the running `node` binary, its shared libraries (from `ldd`) and `files`
 * (e.g. `{ name: 'app/index.js', data: '…' }`). Run it with entrypoint `node /app/index.js`.
 */
export async function nodeImage(
  out: string,
  files: LayerEntry[] = [],
  opts: { format?: 'oci' | 'oci-tar' | 'docker-tar' } = {},
): Promise<string> {
  const node = realpathSync(process.execPath);
  const libs = execFileSync('ldd', [node], { encoding: 'utf8' })
    .split('\n')
    .map((l) => /(\/\S+)\s+\(0x/.exec(l)?.[1] ?? /^\s*(\/\S+)\s/.exec(l)?.[1])
    .filter((p): p is string => Boolean(p));
  const entries: LayerEntry[] = [
    { name: 'usr/', type: 'directory' },
    { name: 'usr/bin/', type: 'directory' },
    { name: 'usr/bin/node', from: node, mode: 0o755 },
    { name: 'tmp/', type: 'directory', mode: 0o1777 },
  ];
  const dirs = new Set<string>(['usr/', 'usr/bin/', 'tmp/']);
  for (const lib of libs) {
    const parts = lib.split('/').filter(Boolean);
    for (let i = 1; i < parts.length; i++) {
      const d = `${parts.slice(0, i).join('/')}/`;
      if (!dirs.has(d)) {
        dirs.add(d);
        entries.push({ name: d, type: 'directory' });
      }
    }
    entries.push({ name: parts.join('/'), from: realpathSync(lib), mode: 0o755 });
  }
  const layers = [await layerTar(entries)];
  if (files.length > 0) layers.push(await layerTar(files));
  return writeImage(out, layers, { config: { Env: ['PATH=/usr/bin:/bin'] }, format: opts.format });
}

/**
 * Tamper with an OCI layout folder the way an attacker with the image would: append a layer
 * (new files, changed files, whiteouts) and rewrite manifest, config and index to include it.
 */
export async function appendLayer(imageDir: string, entries: LayerEntry[]): Promise<void> {
  const blob = (d: string) => join(imageDir, 'blobs', 'sha256', d.slice('sha256:'.length));
  const put = async (b: Buffer) => {
    await fs.writeFile(join(imageDir, 'blobs', 'sha256', sha(b)), b);
    return { digest: `sha256:${sha(b)}`, size: b.length };
  };
  const index = JSON.parse(await fs.readFile(join(imageDir, 'index.json'), 'utf8'));
  const manifest = JSON.parse(await fs.readFile(blob(index.manifests[0].digest), 'utf8'));
  const config = JSON.parse(await fs.readFile(blob(manifest.config.digest), 'utf8'));
  const layer = await layerTar(entries);
  const l = await put(layer);
  config.rootfs.diff_ids.push(l.digest);
  manifest.layers.push({ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...l });
  manifest.config = { ...manifest.config, ...(await put(Buffer.from(JSON.stringify(config)))) };
  index.manifests[0] = { ...index.manifests[0], ...(await put(Buffer.from(JSON.stringify(manifest)))) };
  await fs.writeFile(join(imageDir, 'index.json'), JSON.stringify(index));
}

/** Every file under `dir` (recursively, links not followed) whose bytes contain `needle`. */
export async function filesContaining(dir: string, needle: Buffer): Promise<string[]> {
  const hits: string[] = [];
  // Only a file or folder removed while we walk (a run cleaning up) may be passed over: any other
  // read error fails the caller, so "no plaintext found" never hides an unreadable file.
  const gone = (e: unknown) => {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  };
  const visit = async (d: string) => {
    const items = await fs.readdir(d, { withFileTypes: true }).catch(gone);
    for (const it of items ?? []) {
      const p = join(d, it.name);
      if (it.isDirectory()) await visit(p);
      else if (it.isFile()) {
        const b = await fs.readFile(p).catch(gone);
        if (b && b.includes(needle)) hits.push(p);
      }
    }
  };
  await visit(dir);
  return hits;
}
