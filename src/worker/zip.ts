import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import yauzl from 'yauzl';
import yazl from 'yazl';
import { SealworkError } from '../errors.js';
import { OutputFolder, type OutputLimits } from '../enclave/output-folder.js';

/** A fixed timestamp so the same files always give the same zip bytes. */
const ZIP_MTIME = new Date(Date.UTC(2000, 0, 1));

/** Zip in-memory entries (sorted by name, fixed timestamps: deterministic bytes). */
export function zipEntries(entries: { name: string; data: Buffer }[]): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const z = new yazl.ZipFile();
    const chunks: Buffer[] = [];
    z.outputStream.on('data', (c: Buffer) => chunks.push(c));
    z.outputStream.on('end', () => resolve(Buffer.concat(chunks)));
    z.outputStream.on('error', reject);
    for (const e of [...entries].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)))
      z.addBuffer(e.data, e.name, { mtime: ZIP_MTIME, mode: 0o100644 });
    z.end();
  });
}

/**
 * Zip the regular files of a folder (paths relative to it, recursively). The folder is read with
 * {@link OutputFolder}: no link is followed, a link, FIFO, socket or device anywhere in it is
 * refused (`RESULT_ENTRY_REFUSED`), and the bytes, entries, depth and time are bounded by `o`
 * (`RESULT_TOO_LARGE`, `RESULT_READ_TIMEOUT`).
 */
export async function zipFolder(dir: string, o: OutputLimits = {}): Promise<Buffer> {
  const out = new OutputFolder(dir, o);
  const entries: { name: string; data: Buffer }[] = [];
  for (const f of await out.walk(await out.rootEntry()))
    entries.push({ name: f.rel, data: (await out.read(f)).data });
  return zipEntries(entries);
}

/**
 * Read every file of a zip into memory, refusing unsafe names (absolute, `..`), more than
 * `maxEntries` entries or more than `maxBytes` uncompressed in total.
 */
export function unzipEntries(
  zip: Buffer,
  o: { maxBytes?: number; maxEntries?: number } = {},
): Promise<Map<string, Buffer>> {
  const maxBytes = o.maxBytes ?? 1024 * 1024 * 1024;
  const maxEntries = o.maxEntries ?? 10_000;
  const bad = (msg: string, cause?: unknown) =>
    new SealworkError('ZIP_INVALID', `The result archive is not a valid zip: ${msg}`, { cause });
  return new Promise((resolve, reject) => {
    yauzl.fromBuffer(zip, { lazyEntries: true, validateEntrySizes: true }, (err, zf) => {
      if (err || !zf) return reject(bad(err?.message ?? 'unreadable', err));
      const out = new Map<string, Buffer>();
      let total = 0;
      zf.on('error', (e) => reject(bad((e as Error).message, e)));
      zf.on('end', () => resolve(out));
      zf.on('entry', (entry: yauzl.Entry) => {
        const name = entry.fileName;
        if (name.endsWith('/')) return zf.readEntry();
        if (name.startsWith('/') || name.split('/').includes('..') || name.includes('\\'))
          return reject(bad(`unsafe entry name ${JSON.stringify(name)}`));
        if (out.size >= maxEntries) return reject(bad(`more than ${maxEntries} entries`));
        total += entry.uncompressedSize;
        if (total > maxBytes) return reject(bad(`more than ${maxBytes} bytes uncompressed`));
        zf.openReadStream(entry, (e2, stream) => {
          if (e2 || !stream) return reject(bad(e2?.message ?? 'unreadable entry', e2));
          const chunks: Buffer[] = [];
          stream.on('data', (c: Buffer) => chunks.push(c));
          stream.on('error', (e) => reject(bad(e.message, e)));
          stream.on('end', () => {
            out.set(name, Buffer.concat(chunks));
            zf.readEntry();
          });
        });
      });
      zf.readEntry();
    });
  });
}

/** Write the entries of a zip into `dir` (created), refusing unsafe names. */
export async function unzipToDir(zip: Buffer, dir: string): Promise<string[]> {
  const entries = await unzipEntries(zip);
  const written: string[] = [];
  for (const [name, data] of entries) {
    const p = join(dir, ...name.split('/'));
    await fs.mkdir(join(p, '..'), { recursive: true });
    await fs.writeFile(p, data);
    written.push(p);
  }
  return written;
}
