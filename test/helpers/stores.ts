/**
 * The SMS suite runs on both stores. A suite file asks `storeUnderTest()` for the store it runs on
 * (SQLite by default) and gives every SMS it starts `await store.db()`; its PostgreSQL twin
 * (test/sms/postgres/<file>) runs the same file with `runSuiteOn('postgres', …)`. New files may
 * also loop over `STORES`. All PostgreSQL databases of a test file live on one throwaway cluster,
 * started on first use and stopped when the file's process exits. Under CI a missing PostgreSQL
 * fails the suite (prereq.ts); outside CI the suite is skipped with a line saying so.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';
import { openStore, type SmsStore } from '../../src/sms/store.js';
import { NEEDS_POSTGRES, startTestPostgres, type TestPostgres } from './postgres.js';
import { requires } from './prereq.js';

export type StoreKind = 'sqlite' | 'postgres';

export interface StoreUnderTest {
  kind: StoreKind;
  /** Why suites on this store are skipped (PostgreSQL absent, outside CI), or false. Throws under CI. */
  skip(suite: string): false | string;
  /**
   * The `--db` of a new SMS home: undefined for SQLite (the SMS's own file under its home), else a
   * fresh PostgreSQL database (each SMS home has its own master key, so its own database).
   */
  db(): Promise<string | undefined>;
  /** A fresh store opened directly (SQLite under `dir`). */
  open(dir: string): Promise<SmsStore>;
  /** The file's PostgreSQL cluster (started on first use), to break it on purpose. */
  cluster(): Promise<TestPostgres>;
}

let shared: Promise<TestPostgres> | undefined;
const cluster = () => (shared ??= startTestPostgres());

const SQLITE: StoreUnderTest = {
  kind: 'sqlite',
  skip: () => false,
  db: async () => undefined,
  open: (dir) => openStore(`${dir}/sms.db`),
  cluster,
};

const POSTGRES: StoreUnderTest = {
  kind: 'postgres',
  skip: (suite) => requires(`${suite} on PostgreSQL`, [NEEDS_POSTGRES]),
  db: async () => (await cluster()).createDatabase(),
  open: async () => openStore(await (await cluster()).createDatabase()),
  cluster,
};

export const STORES: readonly StoreUnderTest[] = [SQLITE, POSTGRES];

let current: StoreUnderTest = SQLITE;

/** The store the running suite file is on. */
export function storeUnderTest(): StoreUnderTest {
  return current;
}

/** Run a suite file (loaded by `load`) on `kind`: the body of its twin under test/sms/postgres/. */
export async function runSuiteOn(
  kind: StoreKind,
  suite: string,
  load: () => Promise<unknown>,
): Promise<void> {
  const store = STORES.find((s) => s.kind === kind)!;
  const skip = store.skip(suite);
  if (skip) {
    it(`${suite} on ${kind}`, { skip }, () => {});
    return;
  }
  current = store;
  await load();
}

/** Every row of a table, read behind the store's back (its own connection to the file or database). */
export async function tableRows(store: SmsStore, table: string): Promise<Record<string, unknown>[]> {
  if (!/^[a-z_]+$/.test(table)) throw new Error(`not a table name: ${table}`);
  if (store.kind === 'sqlite') {
    const { default: Database } = await import('better-sqlite3');
    const db = new Database(store.location, { readonly: true });
    try {
      return db.prepare(`SELECT * FROM ${table}`).all() as Record<string, unknown>[];
    } finally {
      db.close();
    }
  }
  const { default: pg } = await import('pg');
  const c = new pg.Client({ connectionString: store.location });
  await c.connect();
  try {
    return (await c.query<Record<string, unknown>>(`SELECT * FROM ${table}`)).rows;
  } finally {
    await c.end();
  }
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    const st = statSync(p, { throwIfNoEntry: false });
    if (!st) return []; // removed while we walk (a live server's temporary file)
    return st.isDirectory() ? filesUnder(p) : st.isFile() ? [p] : [];
  });
}

/**
 * Every byte the store keeps on disk, to scan for secrets in clear: the SQLite file and its WAL,
 * or the whole data directory of the PostgreSQL cluster (tables, indexes and WAL of every database).
 */
export async function storeBytes(kind: StoreKind, sqliteFile?: string): Promise<Buffer> {
  const files =
    kind === 'sqlite'
      ? [sqliteFile!, `${sqliteFile!}-wal`].filter((f) => existsSync(f))
      : filesUnder((await cluster()).dataDir);
  if (files.length === 0) throw new Error(`no database files for ${kind}`);
  return Buffer.concat(
    files.flatMap((f) => {
      try {
        return [readFileSync(f)];
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
        throw e;
      }
    }),
  );
}
