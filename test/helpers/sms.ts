/**
 * Test helpers for the SMS: an in-process SMS (real HTTPS, real SQLite or PostgreSQL, real chain)
 * on a free port, and a throwaway PostgreSQL server (initdb + pg_ctl under a temp dir) that is
 * skipped cleanly when the binaries are absent.
 */
import { spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createLogger,
  silentLogger,
  startSms,
  type Logger,
  type RunningSms,
  type StartSmsOptions,
} from '../../src/sms/index.js';
import { createSmsClient as smsClient, type SmsClient } from '../../src/sms-client/index.js';
import type { TestChain } from './chain.js';
import { tempDir } from './cli.js';

export interface TestSms extends RunningSms {
  home: string;
  client: SmsClient;
  /** Stop the SMS and remove its home (when the helper created it). */
  stop(): Promise<void>;
}

/**
 * Start an SMS in this process on 127.0.0.1:<free port> with TLS, against `chain` (its deployment
 * recorded in the SMS home). Simulation is allowed by default (the test platform is simulated).
 */
export async function startTestSms(
  opts: { chain: TestChain; home?: string } & Partial<Omit<StartSmsOptions, 'home' | 'chainUrl'>>,
): Promise<TestSms> {
  const t = opts.home ? undefined : tempDir('sealwork-sms-');
  const home = opts.home ?? t!.dir;
  await opts.chain.saveTo(home);
  const { chain: _chain, home: _home, ...rest } = opts;
  const logger: Logger =
    opts.logger ?? (process.env.SEALWORK_TEST_LOGS ? createLogger({ level: 'debug' }) : silentLogger);
  const running = await startSms({
    home,
    chainUrl: opts.chain.url,
    port: 0,
    allowSimulation: true,
    ...rest,
    logger,
  });
  return {
    ...running,
    home,
    client: smsClient(running.url, running.cert ? { ca: running.cert } : {}),
    async stop() {
      await running.close();
      t?.cleanup();
    },
  };
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

export interface TestPostgres {
  url: string;
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

/** Are initdb and pg_ctl available? (Tests skip PostgreSQL cases when not.) */
export function postgresAvailable(): boolean {
  return existsSync(join(PG_BIN, 'initdb')) && existsSync(join(PG_BIN, 'pg_ctl'));
}

/**
 * A throwaway PostgreSQL server on a free port under a temp dir (trust auth, user `sms`).
 * initdb refuses to run as root, so under root it runs as `nobody` (setpriv).
 */
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
  const data = join(dir, 'data');
  run('initdb', ['-D', data, '-U', 'sms', '--auth=trust', '-E', 'UTF8', '--no-sync']);
  const port = await freePort();
  run('pg_ctl', [
    '-D',
    data,
    '-l',
    join(dir, 'log'),
    '-w',
    '-o',
    `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1`,
    'start',
  ]);
  return {
    url: `postgres://sms@127.0.0.1:${port}/postgres`,
    async stop() {
      try {
        run('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
