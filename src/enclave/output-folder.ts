/**
 * Reading what an app left in its output folder (`/iexec_out`), as post-compute must: the app
 * controls every name, type and size in it, so nothing it leaves can make the worker read a host
 * file, block, or use unbounded memory or time.
 *
 * - every path component is checked with `lstat`, never followed: a folder must be a real folder,
 *   the file read a regular file; symbolic links, FIFOs, sockets and devices are refused
 *   (`RESULT_ENTRY_REFUSED`, details `{path, type}`), wherever they are;
 * - a file is opened with `O_NOFOLLOW | O_NONBLOCK | O_NOCTTY` (a FIFO swapped in never blocks the
 *   open), then `fstat`-ed: it must still be a regular file with the device and inode `lstat`
 *   saw, and — where `/proc/self/fd` exists — at the path it was asked for;
 * - reads are bounded: bytes read and entries walked per operation, folder depth
 *   (`RESULT_TOO_LARGE`, details `{path, limit, max}`), and a wall-clock deadline checked between
 *   file-system calls (`RESULT_READ_TIMEOUT`).
 *
 * Paths in errors are the app's view (`/iexec_out/...`), never the host folder.
 */
import { constants, promises as fs, type BigIntStats, type Stats } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { SealworkError } from '../errors.js';

/**
 * Default bound on the bytes post-compute reads from /iexec_out for one result: 128 MiB, the
 * sandbox's default bound on /iexec_out (`resultBytes` in src/enclave/sandbox-limits.ts), so an
 * output the run let through is not refused here by default.
 */
export const DEFAULT_MAX_RESULT_BYTES = 128 * 1024 * 1024;
/** Default bound on the files and folders post-compute walks in /iexec_out (10,000). */
export const DEFAULT_MAX_RESULT_ENTRIES = 10_000;
/** Default bound on the folder depth under /iexec_out (64). */
export const DEFAULT_MAX_RESULT_DEPTH = 64;
/** Default wall-clock bound for one post-compute read of /iexec_out (60 s). */
export const DEFAULT_RESULT_READ_TIMEOUT_MS = 60_000;

export interface OutputLimits {
  /** Bytes read in one operation (default {@link DEFAULT_MAX_RESULT_BYTES}). */
  maxBytes?: number;
  /** Files and folders walked in one operation (default {@link DEFAULT_MAX_RESULT_ENTRIES}). */
  maxEntries?: number;
  /** Folders nested below the root, at most (default {@link DEFAULT_MAX_RESULT_DEPTH}). */
  maxDepth?: number;
  /** Wall-clock bound of one operation, in ms (default {@link DEFAULT_RESULT_READ_TIMEOUT_MS}). */
  timeoutMs?: number;
}

/** What an entry is, as `lstat` sees it (links are never followed). */
export type EntryType =
  'file' | 'directory' | 'symlink' | 'fifo' | 'socket' | 'block-device' | 'char-device' | 'unknown';

export interface OutputEntry {
  /** Path relative to the root, `/`-separated (`''` for the root). */
  rel: string;
  type: EntryType;
  stat: BigIntStats;
}

const OPEN_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK | constants.O_NOCTTY;
const CHUNK = 1024 * 1024;

/** What an `lstat` (or `fstat`) result is, in the words of `RESULT_ENTRY_REFUSED`'s `details.type`. */
export function entryTypeOf(
  s: Pick<
    Stats,
    | 'isFile'
    | 'isDirectory'
    | 'isSymbolicLink'
    | 'isFIFO'
    | 'isSocket'
    | 'isBlockDevice'
    | 'isCharacterDevice'
  >,
): EntryType {
  if (s.isFile()) return 'file';
  if (s.isDirectory()) return 'directory';
  if (s.isSymbolicLink()) return 'symlink';
  if (s.isFIFO()) return 'fifo';
  if (s.isSocket()) return 'socket';
  if (s.isBlockDevice()) return 'block-device';
  if (s.isCharacterDevice()) return 'char-device';
  return 'unknown';
}

const DESCRIBE: Record<EntryType, string> = {
  file: 'a regular file',
  directory: 'a folder',
  symlink: 'a symbolic link',
  fifo: 'a FIFO (named pipe)',
  socket: 'a socket',
  'block-device': 'a block device',
  'char-device': 'a character device',
  unknown: 'a special file',
};

function errnoOf(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException | undefined)?.code;
}

/** Split a relative `/`-separated path into components, refusing `..`, `.` and empty ones. */
function components(rel: string): string[] {
  if (rel === '') return [];
  const parts = rel.split('/');
  if (parts.some((p) => p === '' || p === '.' || p === '..' || p.includes('\0')))
    throw new SealworkError(
      'RESULT_PATH_INVALID',
      `The output path ${JSON.stringify(rel)} is not a plain relative path.`,
      {
        hint: 'Name a file or folder inside /iexec_out without "..", "." or empty components.',
        details: { path: rel },
      },
    );
  return parts;
}

/**
 * One bounded read session over an output folder: the byte, entry and time budgets are shared by
 * every call on the same instance. The root itself is the worker's own folder (trusted to be
 * where it is) but must still be a real folder.
 */
export class OutputFolder {
  readonly root: string;
  /** How the root is shown in errors (the app's view), `/iexec_out` by default. */
  readonly shownAs: string;
  readonly maxBytes: number;
  readonly maxEntries: number;
  readonly maxDepth: number;
  readonly timeoutMs: number;
  private bytes = 0;
  private entries = 0;
  private readonly deadline: number;
  private realRoot: string | undefined;

  constructor(root: string, o: OutputLimits & { shownAs?: string } = {}) {
    this.root = root;
    this.shownAs = o.shownAs ?? '/iexec_out';
    this.maxBytes = o.maxBytes ?? DEFAULT_MAX_RESULT_BYTES;
    this.maxEntries = o.maxEntries ?? DEFAULT_MAX_RESULT_ENTRIES;
    this.maxDepth = o.maxDepth ?? DEFAULT_MAX_RESULT_DEPTH;
    this.timeoutMs = o.timeoutMs ?? DEFAULT_RESULT_READ_TIMEOUT_MS;
    this.deadline = Date.now() + this.timeoutMs;
  }

  /** The app's view of a relative path: `/iexec_out/<rel>`. */
  shown(rel: string): string {
    return rel === '' ? this.shownAs : `${this.shownAs}/${rel}`;
  }

  private host(parts: string[]): string {
    return join(this.root, ...parts);
  }

  private tick(rel: string): void {
    if (Date.now() > this.deadline)
      throw new SealworkError(
        'RESULT_READ_TIMEOUT',
        `Reading the result in ${this.shownAs} took longer than ${this.timeoutMs} ms (at ${this.shown(rel)}).`,
        {
          hint: 'Leave fewer and smaller files in /iexec_out.',
          details: { path: this.shown(rel), timeoutMs: this.timeoutMs },
        },
      );
  }

  private failed(rel: string, e: unknown): SealworkError {
    const errno = errnoOf(e) ?? 'EIO';
    return new SealworkError(
      'RESULT_READ_FAILED',
      `Post-compute cannot read ${this.shown(rel)} (${errno}).`,
      {
        hint: 'Leave only regular files and folders the worker can read in /iexec_out.',
        details: { path: this.shown(rel), errno },
        cause: e,
      },
    );
  }

  /** The error for an entry that is not a regular file or folder where one is read. */
  refused(rel: string, type: EntryType): SealworkError {
    return new SealworkError(
      'RESULT_ENTRY_REFUSED',
      `Post-compute refused ${this.shown(rel)}: it is ${DESCRIBE[type]}, and only regular files and folders are read from ${this.shownAs}.`,
      {
        hint: 'Write results as regular files inside /iexec_out; remove symbolic links, FIFOs, sockets and devices before the app exits.',
        details: { path: this.shown(rel), type },
      },
    );
  }

  private tooLarge(rel: string, limit: 'bytes' | 'entries' | 'depth', max: number): SealworkError {
    const what =
      limit === 'bytes'
        ? `more than ${max} bytes`
        : limit === 'entries'
          ? `more than ${max} files and folders`
          : `folders nested more than ${max} deep`;
    return new SealworkError(
      'RESULT_TOO_LARGE',
      `The result in ${this.shownAs} holds ${what} (limit reached at ${this.shown(rel)}).`,
      {
        hint:
          limit === 'bytes'
            ? "Write a smaller result, or raise the worker's maximum result size."
            : 'Write fewer files and a flatter folder tree in /iexec_out.',
        details: { path: this.shown(rel), limit, max },
      },
    );
  }

  private async lstat(rel: string, parts: string[]): Promise<BigIntStats | undefined> {
    this.tick(rel);
    try {
      return await fs.lstat(this.host(parts), { bigint: true });
    } catch (e) {
      const errno = errnoOf(e);
      if (errno === 'ENOENT' || errno === 'ENOTDIR') return undefined;
      throw this.failed(rel, e);
    }
  }

  /**
   * What `rel` is, checking every component with `lstat`: each folder on the way must be a real
   * folder (a link or special file there is refused); undefined when something on the way or the
   * entry itself does not exist. The entry itself is returned as it is (the caller decides).
   */
  async entry(rel: string): Promise<OutputEntry | undefined> {
    const parts = components(rel);
    if (parts.length > this.maxDepth + 1) throw this.tooLarge(rel, 'depth', this.maxDepth);
    const rootStat = await this.lstat('', []);
    if (!rootStat) return undefined;
    const rootType = entryTypeOf(rootStat);
    if (rootType !== 'directory') throw this.refused('', rootType);
    let stat = rootStat;
    for (let i = 0; i < parts.length; i++) {
      const sub = parts.slice(0, i + 1);
      const subRel = sub.join('/');
      const s = await this.lstat(subRel, sub);
      if (!s) return undefined;
      const type = entryTypeOf(s);
      if (i < parts.length - 1) {
        if (type === 'file') return undefined; // "a/b" under a file: no such entry
        if (type !== 'directory') throw this.refused(subRel, type);
      }
      stat = s;
    }
    return { rel: parts.join('/'), type: entryTypeOf(stat), stat };
  }

  private async open(e: OutputEntry): Promise<FileHandle> {
    this.tick(e.rel);
    let fh: FileHandle;
    try {
      fh = await fs.open(this.host(components(e.rel)), OPEN_FLAGS);
    } catch (err) {
      // ELOOP: the last component became a link after lstat; ENXIO: a device or socket.
      if (errnoOf(err) === 'ELOOP') throw this.refused(e.rel, 'symlink');
      throw this.failed(e.rel, err);
    }
    try {
      const s = await fh.stat({ bigint: true });
      const type = entryTypeOf(s);
      if (type !== 'file') throw this.refused(e.rel, type);
      if (s.dev !== e.stat.dev || s.ino !== e.stat.ino) throw this.changed(e.rel);
      await this.checkFdPath(fh, e.rel);
      return fh;
    } catch (err) {
      await fh.close().catch(() => undefined);
      throw err;
    }
  }

  private changed(rel: string): SealworkError {
    return new SealworkError(
      'RESULT_ENTRY_CHANGED',
      `${this.shown(rel)} changed while post-compute read it.`,
      {
        hint: 'Nothing may modify /iexec_out after the app exits; run the task again.',
        details: { path: this.shown(rel) },
      },
    );
  }

  /** Where /proc/self/fd exists, the opened file must be the one at root/rel (no component swapped). */
  private async checkFdPath(fh: FileHandle, rel: string): Promise<void> {
    if (this.realRoot === undefined) this.realRoot = await fs.realpath(this.root).catch(() => '');
    if (!this.realRoot) return;
    let actual: string;
    try {
      actual = await fs.readlink(`/proc/self/fd/${fh.fd}`);
    } catch {
      return; // no procfs: lstat of every component + dev/ino is the check
    }
    if (actual !== posix.join(this.realRoot, rel)) throw this.changed(rel);
  }

  /**
   * Read a regular file (an entry from {@link entry} or {@link walk}), bounded by the remaining
   * byte budget. With `onChunk` the bytes are handed over as they are read and not kept (the
   * returned buffer is empty); returns the bytes read.
   */
  async read(
    e: OutputEntry,
    o: { onChunk?: (chunk: Buffer) => void } = {},
  ): Promise<{ data: Buffer; size: number }> {
    if (e.type !== 'file') throw this.refused(e.rel, e.type);
    if (this.bytes + Number(e.stat.size) > this.maxBytes) throw this.tooLarge(e.rel, 'bytes', this.maxBytes);
    const fh = await this.open(e);
    try {
      const kept: Buffer[] = [];
      let size = 0;
      for (;;) {
        this.tick(e.rel);
        // Read one byte past the budget to see a file that grew.
        const room = this.maxBytes - this.bytes + 1;
        const buf = Buffer.allocUnsafe(Math.min(CHUNK, room));
        let n: number;
        try {
          ({ bytesRead: n } = await fh.read(buf, 0, buf.length, null));
        } catch (err) {
          throw this.failed(e.rel, err);
        }
        if (n === 0) break;
        this.bytes += n;
        size += n;
        if (this.bytes > this.maxBytes) throw this.tooLarge(e.rel, 'bytes', this.maxBytes);
        const chunk = buf.subarray(0, n);
        if (o.onChunk) o.onChunk(chunk);
        else kept.push(chunk);
      }
      return { data: Buffer.concat(kept), size };
    } finally {
      await fh.close().catch(() => undefined);
    }
  }

  /**
   * The entries of a folder, sorted by name in byte order, each checked with `lstat`. Links and
   * special files are refused; folders and regular files are returned. Counts against the entry
   * budget.
   */
  async list(dir: OutputEntry): Promise<OutputEntry[]> {
    if (dir.type !== 'directory') throw this.refused(dir.rel, dir.type);
    const prefix = components(dir.rel);
    if (prefix.length > this.maxDepth) throw this.tooLarge(dir.rel, 'depth', this.maxDepth);
    this.tick(dir.rel);
    const names: Buffer[] = [];
    try {
      // Names as raw bytes (Node's types only list string encodings; the runtime honours 'buffer').
      const d = await fs.opendir(this.host(prefix), { encoding: 'buffer' as BufferEncoding });
      for await (const ent of d) {
        const name = ent.name as unknown as Buffer;
        if (++this.entries > this.maxEntries)
          throw this.tooLarge([...prefix, name.toString('utf8')].join('/'), 'entries', this.maxEntries);
        names.push(name);
        this.tick(dir.rel);
      }
    } catch (err) {
      if (err instanceof SealworkError) throw err;
      throw this.failed(dir.rel, err);
    }
    names.sort(Buffer.compare);
    const out: OutputEntry[] = [];
    for (const raw of names) {
      const name = raw.toString('utf8');
      const rel = [...prefix, name].join('/');
      if (!Buffer.from(name, 'utf8').equals(raw))
        throw new SealworkError(
          'RESULT_ENTRY_REFUSED',
          `Post-compute refused a name in ${this.shown(dir.rel)} that is not valid UTF-8 (${JSON.stringify(name)}).`,
          {
            hint: 'Name the files in /iexec_out in UTF-8.',
            details: { path: this.shown(rel), type: 'invalid-name' },
          },
        );
      const s = await this.lstat(rel, [...prefix, name]);
      if (!s) throw this.changed(rel);
      const type = entryTypeOf(s);
      if (type !== 'file' && type !== 'directory') throw this.refused(rel, type);
      if (type === 'directory' && prefix.length + 1 > this.maxDepth)
        throw this.tooLarge(rel, 'depth', this.maxDepth);
      out.push({ rel, type, stat: s });
    }
    return out;
  }

  /**
   * Every regular file under a folder, recursively (depth-first, names in byte order). Any link,
   * FIFO, socket or device anywhere below is refused.
   */
  async walk(dir: OutputEntry): Promise<OutputEntry[]> {
    const out: OutputEntry[] = [];
    const visit = async (d: OutputEntry): Promise<void> => {
      for (const e of await this.list(d)) {
        if (e.type === 'directory') await visit(e);
        else out.push(e);
      }
    };
    await visit(dir);
    return out;
  }

  /** The root folder as an entry (refused unless it is a real folder). */
  async rootEntry(): Promise<OutputEntry> {
    const e = await this.entry('');
    if (!e)
      throw new SealworkError('RESULT_READ_FAILED', `Post-compute cannot read ${this.shownAs} (ENOENT).`, {
        details: { path: this.shownAs, errno: 'ENOENT' },
      });
    return e;
  }
}
