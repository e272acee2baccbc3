/**
 * A throwaway PostgreSQL cluster for one test file: initdb into a temp dir, then pg_ctl on
 * 127.0.0.1:<free port> (and a unix socket in the temp dir), trust auth for user `sms`. Debian's
 * binaries are found with `pg_config --bindir` or under /usr/lib/postgresql/<version>/bin. initdb
 * refuses to run as root, so under root the cluster runs as `nobody`. Each test that needs a clean
 * database asks `createDatabase()` (cheap); the cluster itself is started at most once per file.
 */
import { execFile, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Prerequisite } from './prereq.js';

export interface TestPostgres {
  /** `postgres://sms@127.0.0.1:<port>/postgres` (the maintenance database). */
  url: string;
  /** The cluster's data directory (its tables and WAL as files, to scan). */
  dataDir: string;
  /** A fresh empty database on the cluster; its URL. */
  createDatabase(): Promise<string>;
  /** Crash-stop the server (`pg_ctl stop -m immediate`): clients see their connections drop. */
  kill(): Promise<void>;
  /** Start it again on the same port and data (crash recovery runs); resolves once it accepts connections. */
  start(): Promise<void>;
  /** Stop the server and remove its data. */
  stop(): Promise<void>;
}

/**
 * Where initdb and pg_ctl are: SEALWORK_PG_BIN, else `pg_config --bindir`, else Debian's
 * /usr/lib/postgresql/<newest>/bin, else /usr/local/bin.
 */
function pgBin(): string {
  if (process.env.SEALWORK_PG_BIN) return process.env.SEALWORK_PG_BIN;
  const has = (dir: string) => existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'pg_ctl'));
  const r = spawnSync('pg_config', ['--bindir'], { encoding: 'utf8' });
  if (r.status === 0 && has(r.stdout.trim())) return r.stdout.trim();
  const debian = '/usr/lib/postgresql';
  const versions = existsSync(debian)
    ? readdirSync(debian)
        .filter((v) => /^\d+$/.test(v) && has(join(debian, v, 'bin')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  return versions[0] ? join(debian, versions[0], 'bin') : '/usr/local/bin';
}
const PG_BIN = pgBin();

/** Are initdb and pg_ctl available? */
export function postgresAvailable(): boolean {
  return existsSync(join(PG_BIN, 'initdb')) && existsSync(join(PG_BIN, 'pg_ctl'));
}

/** PostgreSQL as a test prerequisite (for `requires()`). */
export const NEEDS_POSTGRES: Prerequisite = {
  name: 'PostgreSQL',
  present: postgresAvailable(),
  enable: 'apt-get install -y postgresql',
};

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

/** Clusters of this process still running, stopped when it exits (even when a test file dies). */
const live = new Map<string, () => void>();
process.once('exit', () => {
  for (const stop of live.values()) stop();
});

export async function startTestPostgres(): Promise<TestPostgres> {
  const dir = mkdtempSync(join(tmpdir(), 'sealwork-pg-'));
  const asRoot = process.getuid?.() === 0;
  if (asRoot) chownSync(dir, 65534, 65534);
  const run = (bin: string, args: string[]) => {
    const cmd = asRoot ? 'setpriv' : join(PG_BIN, bin);
    const argv = asRoot
      ? ['--reuid=65534', '--regid=65534', '--clear-groups', join(PG_BIN, bin), ...args]
      : args;
    const r = spawnSync(cmd, argv, { encoding: 'utf8', cwd: dir, timeout: 60_000 });
    if (r.status !== 0) throw new Error(`${bin} failed (${r.status}): ${r.stderr || r.stdout}`);
  };
  /** The same, without blocking this process (an SMS in it keeps serving meanwhile). */
  const runAsync = (bin: string, args: string[]) =>
    new Promise<void>((resolve, reject) => {
      const cmd = asRoot ? 'setpriv' : join(PG_BIN, bin);
      const argv = asRoot
        ? ['--reuid=65534', '--regid=65534', '--clear-groups', join(PG_BIN, bin), ...args]
        : args;
      execFile(cmd, argv, { cwd: dir, timeout: 60_000 }, (e, _out, err) =>
        e ? reject(new Error(`${bin} failed: ${err || e.message}`)) : resolve(),
      );
    });
  const data = join(dir, 'data');
  const running = () => existsSync(join(data, 'postmaster.pid'));
  const remove = () => {
    live.delete(dir);
    try {
      if (running()) run('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
  try {
    run('initdb', ['-D', data, '-U', 'sms', '--auth=trust', '-E', 'UTF8', '--no-sync']);
    const port = await freePort();
    const startArgs = [
      '-D',
      data,
      '-l',
      join(dir, 'log'),
      '-w',
      '-o',
      `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1`,
      'start',
    ];
    run('pg_ctl', startArgs);
    live.set(dir, remove);
    const url = `postgres://sms@127.0.0.1:${port}/postgres`;
    let n = 0;
    return {
      url,
      dataDir: data,
      async createDatabase() {
        const name = `sms_${++n}`;
        const { default: pg } = await import('pg');
        const c = new pg.Client({ connectionString: url });
        await c.connect();
        try {
          await c.query(`CREATE DATABASE ${name}`);
        } finally {
          await c.end();
        }
        return url.replace(/\/postgres$/, `/${name}`);
      },
      kill: () => runAsync('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']),
      start: () => runAsync('pg_ctl', startArgs),
      async stop() {
        remove();
      },
    };
  } catch (e) {
    remove();
    throw e;
  }
}
