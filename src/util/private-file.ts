/**
 * Files that hold secrets, signatures or plaintext results are 0600 in 0700 folders. SQLite
 * databases: the file is created 0600 before SQLite opens it (SQLite gives its -wal and -shm files
 * the mode of the database file), and an existing database and its -wal/-shm are set to 0600.
 */
import { chmodSync, closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';

/** Create `dir` (and missing parents) 0700. An existing folder keeps its mode. */
export function mkdirPrivate(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
}

/** Set a file to 0600 when it exists (best effort: a file we cannot chmod is not ours to fix). */
function chmodIfExists(path: string): void {
  try {
    chmodSync(path, 0o600);
  } catch {
    /* missing */
  }
}

/**
 * Before opening a SQLite database at `path`: its folder created 0700, the file created 0600
 * (or set to 0600), and its -wal/-shm set to 0600 when they exist.
 */
export function preparePrivateSqlite(path: string): void {
  mkdirPrivate(dirname(path));
  closeSync(openSync(path, 'a', 0o600));
  for (const p of [path, `${path}-wal`, `${path}-shm`, `${path}-journal`]) chmodIfExists(p);
}

/** After opening (WAL created): the -wal and -shm files 0600. */
export function privateSqliteSidecars(path: string): void {
  for (const p of [`${path}-wal`, `${path}-shm`]) chmodIfExists(p);
}
