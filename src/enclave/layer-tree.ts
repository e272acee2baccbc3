/**
 * Reproducible layers: a file tree described in memory (image path → host file, folder or link),
 * packed in sorted order with fixed owners (0:0) and one fixed mtime (SOURCE_DATE_EPOCH, else 0),
 * so that the same inputs always give the same layer digest. Used by the base images and by the
 * Dockerfile builder (the way jib and ko layer images: no daemon, no RUN).
 */
import { promises as fs } from 'node:fs';
import { SealworkError } from '../errors.js';
import { packEntry, writeLayer, type LayerBlob } from './oci.js';
import { components } from './util.js';

export type TreeNode =
  | { type: 'dir'; mode: number }
  | { type: 'file'; mode: number; host: string }
  | { type: 'file'; mode: number; data: Buffer }
  | { type: 'symlink'; target: string };

/** Image path (`/usr/bin/python3`, no trailing slash) → entry. */
export type Tree = Map<string, TreeNode>;

/** The mtime every entry gets: `SOURCE_DATE_EPOCH` (seconds) when set, else the epoch. */
export function sourceDateEpoch(env: NodeJS.ProcessEnv = process.env): number {
  const v = env.SOURCE_DATE_EPOCH;
  if (v === undefined || v === '') return 0;
  if (!/^\d+$/.test(v))
    throw new SealworkError(
      'SOURCE_DATE_EPOCH_INVALID',
      `SOURCE_DATE_EPOCH=${v} is not a number of seconds.`,
      {
        hint: 'Set it to a Unix time, e.g. SOURCE_DATE_EPOCH=$(git log -1 --format=%ct), or unset it.',
      },
    );
  return Number(v);
}

/** Normalise an image path: absolute, no `.`/`..`, no trailing slash. */
export function treePath(p: string): string {
  return `/${components(p).join('/')}`;
}

/** Add the missing parent folders of every entry (0755). */
export function addParents(tree: Tree): void {
  for (const p of [...tree.keys()]) {
    const parts = components(p);
    for (let i = 1; i < parts.length; i++) {
      const d = `/${parts.slice(0, i).join('/')}`;
      const cur = tree.get(d);
      if (!cur) tree.set(d, { type: 'dir', mode: 0o755 });
    }
  }
}

/** Permission bits and the sticky bit only: no setuid/setgid bits go into an image. */
function permBits(mode: number): number {
  return mode & 0o1777;
}

/** Write `tree` as one uncompressed tar layer at `path`, sorted, owners 0:0, mtime fixed. */
export async function packTree(
  path: string,
  tree: Tree,
  mtimeSeconds = sourceDateEpoch(),
): Promise<LayerBlob> {
  addParents(tree);
  tree.delete('/');
  const mtime = new Date(mtimeSeconds * 1000);
  const names = [...tree.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return writeLayer(path, async (pack) => {
    for (const p of names) {
      const n = tree.get(p)!;
      const name = p.slice(1);
      if (n.type === 'dir')
        await packEntry(pack, { name: `${name}/`, type: 'directory', mode: permBits(n.mode), mtime });
      else if (n.type === 'symlink')
        await packEntry(pack, { name, type: 'symlink', linkname: n.target, mode: 0o777, mtime });
      else if ('data' in n)
        await packEntry(pack, { name, type: 'file', mode: permBits(n.mode), mtime }, { data: n.data });
      else await packEntry(pack, { name, type: 'file', mode: permBits(n.mode), mtime }, { file: n.host });
    }
  });
}

/** Add every entry under host folder `dir` to `tree` at image path `at` (links kept as links). */
export async function addHostDir(
  tree: Tree,
  dir: string,
  at: string,
  keep: (imagePath: string) => boolean = () => true,
): Promise<void> {
  const items = await fs.readdir(dir, { withFileTypes: true });
  for (const d of items) {
    const ip = at === '/' ? `/${d.name}` : `${at}/${d.name}`;
    if (!keep(ip)) continue;
    const host = `${dir}/${d.name}`;
    if (d.isDirectory()) {
      const st = await fs.stat(host);
      tree.set(ip, { type: 'dir', mode: st.mode });
      await addHostDir(tree, host, ip, keep);
    } else if (d.isSymbolicLink()) tree.set(ip, { type: 'symlink', target: await fs.readlink(host) });
    else if (d.isFile()) {
      const st = await fs.stat(host);
      tree.set(ip, { type: 'file', mode: st.mode, host });
    }
    // devices, FIFOs and sockets never go into an image
  }
}
