import { randomBytes } from 'node:crypto';
import { constants, promises as fs, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { SealworkError, fsError } from '../errors.js';

/**
 * Files being written right now. While there are any, SIGINT/SIGTERM/SIGHUP remove them before the
 * process goes down, so no partial output survives Ctrl-C. The handlers exist only while a write
 * is in progress, and they re-raise the signal only when nothing else in the process listens to
 * it: a service with its own graceful shutdown keeps it.
 */
const pending = new Set<string>();
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

function onSignal(signal: NodeJS.Signals): void {
  for (const p of pending) {
    try {
      rmSync(p, { force: true });
    } catch {
      /* best effort */
    }
  }
  pending.clear();
  removeSignalHandlers();
  if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
}

function addPending(path: string): void {
  if (pending.size === 0) for (const s of SIGNALS) process.on(s, onSignal);
  pending.add(path);
}

function removeSignalHandlers(): void {
  for (const s of SIGNALS) process.off(s, onSignal);
}

function deletePending(path: string): void {
  if (pending.delete(path) && pending.size === 0) removeSignalHandlers();
}

export async function assertWritableTarget(path: string, force: boolean): Promise<void> {
  if (force) return;
  try {
    await fs.access(path, constants.F_OK);
  } catch {
    return;
  }
  throw new SealworkError('OUTPUT_EXISTS', `Output ${path} already exists.`, {
    hint: 'Choose another path or pass --force to overwrite.',
    details: { path },
  });
}

export interface AtomicTarget {
  /** The temporary path to write to. */
  tmpPath: string;
  /** Rename the temporary file onto the final path. */
  commit(): Promise<void>;
  /** Remove the temporary file (idempotent). */
  abort(): Promise<void>;
}

/**
 * Prepare an atomic write to `path`: write into a temp file in the same folder, then rename.
 * Refuses an existing target unless `force`.
 */
export async function atomicTarget(
  path: string,
  opts: { force?: boolean; mode?: number } = {},
): Promise<AtomicTarget> {
  await assertWritableTarget(path, opts.force ?? false);
  const dir = dirname(path);
  try {
    await fs.mkdir(dir, { recursive: true });
  } catch (e) {
    throw fsError(e, dir, 'create folder');
  }
  const tmpPath = join(dir, `.${basename(path)}.${randomBytes(6).toString('hex')}.partial`);
  addPending(tmpPath);
  let done = false;
  return {
    tmpPath,
    async commit() {
      if (done) return;
      if (opts.mode !== undefined) await fs.chmod(tmpPath, opts.mode);
      if (!opts.force) {
        // Re-check right before the rename: another process may have created it meanwhile.
        await assertWritableTarget(path, false).catch(async (e) => {
          await fs.rm(tmpPath, { force: true });
          deletePending(tmpPath);
          done = true;
          throw e;
        });
      }
      await fs.rename(tmpPath, path);
      deletePending(tmpPath);
      done = true;
    },
    async abort() {
      if (done) return;
      await fs.rm(tmpPath, { force: true });
      deletePending(tmpPath);
      done = true;
    },
  };
}

/** Write a small file atomically (temp + rename), with an optional mode (e.g. 0o600 for keys). */
export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  opts: { force?: boolean; mode?: number } = {},
): Promise<void> {
  const t = await atomicTarget(path, opts);
  try {
    await fs.writeFile(t.tmpPath, data, { mode: opts.mode ?? 0o644 });
    await t.commit();
  } catch (e) {
    await t.abort();
    if (e instanceof SealworkError) throw e;
    throw fsError(e, path, 'write');
  }
}
