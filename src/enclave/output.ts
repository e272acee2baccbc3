/**
 * What the app left in /iexec_out, brought out to the caller's folder after the run: regular files
 * and folders only, never following a link, within the run's result bounds (the same reader
 * post-compute uses, output-folder.ts). A link, FIFO, socket or device is refused with
 * RESULT_ENTRY_REFUSED; more than the bounds with RESULT_TOO_LARGE.
 */
import { constants, promises as fs } from 'node:fs';
import { join } from 'node:path';
import { SealworkError } from '../errors.js';
import { OutputFolder, type OutputEntry } from './output-folder.js';

export interface OutputBounds {
  resultBytes: number;
  resultEntries: number;
}

/** The error for an /iexec_out that filled its sized tmpfs or outgrew the watchdog's bound. */
export function outputFull(bounds: OutputBounds, used: { bytes: number; entries: number }): SealworkError {
  const limit = used.entries >= bounds.resultEntries ? 'entries' : 'bytes';
  return new SealworkError(
    'RESULT_TOO_LARGE',
    `The app filled /iexec_out past the result bound (${bounds.resultBytes} bytes, ${bounds.resultEntries} files and folders).`,
    {
      hint: 'Write a smaller result, or raise the bound (resultBytes / SEALWORK_SANDBOX_RESULT_BYTES, resultEntries / SEALWORK_SANDBOX_RESULT_ENTRIES).',
      details: {
        path: '/iexec_out',
        limit,
        max: limit === 'bytes' ? bounds.resultBytes : bounds.resultEntries,
        ...used,
      },
    },
  );
}

/** Size and entry count of a tree, without following links (the watchdog of unmounted outputs). */
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

/**
 * Copy the output tree `from` into `to` (created if missing; files 0600, folders 0700). Called only
 * once every process of the sandbox is gone (its PID namespace died with it), so nothing can swap
 * an entry between the check and the copy: the tree is walked with the checking reader (links,
 * FIFOs, sockets, devices refused; entries, depth and bytes bounded) and each regular file then
 * copied by the kernel (copy_file_range).
 */
export async function copyOutput(from: string, to: string, bounds: OutputBounds): Promise<void> {
  const folder = new OutputFolder(from, { maxBytes: bounds.resultBytes, maxEntries: bounds.resultEntries });
  let bytes = 0;
  const copy = async (dir: OutputEntry, dst: string): Promise<void> => {
    await fs.mkdir(dst, { recursive: true, mode: 0o700 });
    for (const e of await folder.list(dir)) {
      const target = join(dst, e.rel.split('/').pop()!);
      if (e.type === 'directory') {
        await copy(e, target);
        continue;
      }
      if ((bytes += Number(e.stat.size)) > bounds.resultBytes)
        throw outputFull(bounds, { bytes, entries: 0 });
      await fs.rm(target, { force: true, recursive: true }); // a result replaces what --out held
      await fs.copyFile(join(from, e.rel), target, constants.COPYFILE_EXCL);
      await fs.chmod(target, 0o600);
    }
  };
  await copy(await folder.rootEntry(), to);
}
