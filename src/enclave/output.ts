/**
 * What the app left in /iexec_out, brought out to the caller's folder: regular files and folders
 * only, never following a link, within the run's result bounds. A link, FIFO, socket or device is
 * refused with RESULT_ENTRY_REFUSED; more than the bound with RESULT_TOO_LARGE.
 */
import { constants, promises as fs } from 'node:fs';
import { join } from 'node:path';
import { SealworkError } from '../errors.js';

export interface OutputBounds {
  resultBytes: number;
  resultEntries: number;
}

function kind(st: import('node:fs').Stats): string {
  if (st.isSymbolicLink()) return 'symbolic link';
  if (st.isFIFO()) return 'FIFO';
  if (st.isSocket()) return 'socket';
  if (st.isBlockDevice() || st.isCharacterDevice()) return 'device';
  return 'special file';
}

export function refusedEntry(path: string, what: string): SealworkError {
  return new SealworkError(
    'RESULT_ENTRY_REFUSED',
    `The app left a ${what} at ${path} in /iexec_out; results hold only regular files and folders.`,
    {
      hint: 'Write the result as regular files under /iexec_out (no links, FIFOs, sockets or devices).',
      details: { path, type: what },
    },
  );
}

export function tooLarge(bounds: OutputBounds, found: { bytes: number; entries: number }): SealworkError {
  return new SealworkError(
    'RESULT_TOO_LARGE',
    `The app's /iexec_out exceeds the result bound (${bounds.resultBytes} bytes, ${bounds.resultEntries} entries).`,
    {
      hint: 'Write a smaller result, or raise the bound (limits.resultBytes / SEALWORK_SANDBOX_RESULT_BYTES, limits.resultEntries / SEALWORK_SANDBOX_RESULT_ENTRIES).',
      details: { ...bounds, ...found },
    },
  );
}

const READ_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;
const WRITE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW;

/** Size and entry count of a tree, without following links (for the watchdog of unmounted outputs). */
export async function treeUsage(dir: string): Promise<{ bytes: number; entries: number }> {
  let bytes = 0;
  let entries = 0;
  const walk = async (d: string): Promise<void> => {
    for (const e of await fs.readdir(d, { withFileTypes: true }).catch(() => [])) {
      entries++;
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else bytes += (await fs.lstat(p).catch(() => null))?.size ?? 0;
    }
  };
  await walk(dir);
  return { bytes, entries };
}

/** Copy the output tree `from` into `to` (created if missing), checked and bounded. */
export async function copyOutput(
  from: string,
  to: string,
  bounds: OutputBounds,
): Promise<{ bytes: number; entries: number }> {
  const count = { bytes: 0, entries: 0 };
  const copyDir = async (src: string, dst: string, rel: string): Promise<void> => {
    await fs.mkdir(dst, { recursive: true, mode: 0o700 });
    for (const name of (await fs.readdir(src)).sort()) {
      const path = `${rel}/${name}`;
      const s = join(src, name);
      const st = await fs.lstat(s);
      if (++count.entries > bounds.resultEntries) throw tooLarge(bounds, count);
      if (st.isDirectory()) {
        await copyDir(s, join(dst, name), path);
        continue;
      }
      if (!st.isFile()) throw refusedEntry(path, kind(st));
      if ((count.bytes += st.size) > bounds.resultBytes) throw tooLarge(bounds, count);
      await copyFile(s, join(dst, name), st, path);
    }
  };
  await copyDir(from, to, '/iexec_out');
  return count;
}

async function copyFile(
  src: string,
  dst: string,
  seen: import('node:fs').Stats,
  path: string,
): Promise<void> {
  const input = await fs.open(src, READ_FLAGS);
  try {
    const st = await input.stat();
    if (!st.isFile() || st.ino !== seen.ino || st.dev !== seen.dev) throw refusedEntry(path, kind(st));
    const output = await fs.open(dst, WRITE_FLAGS, 0o600);
    try {
      const buf = Buffer.allocUnsafe(Math.min(1 << 20, Math.max(1, st.size)));
      let left = st.size;
      while (left > 0) {
        const { bytesRead } = await input.read(buf, 0, Math.min(buf.length, left));
        if (bytesRead === 0) break;
        await output.write(buf, 0, bytesRead);
        left -= bytesRead;
      }
    } finally {
      await output.close();
    }
  } finally {
    await input.close();
  }
}
