/**
 * The SMS CLI end to end (real processes, real anvil, real SQLite, or PostgreSQL with `--db
 * postgres://…` in its twin test/sms/postgres/cli.test.ts): `sms start` with a generated
 * TLS certificate and master key, secrets pushed from files and stdin (never argv), `secret
 * check`, result keys, durability of an acknowledged push across kill -9, no secret in clear in the
 * database files, master-key mismatch refused, graceful shutdown on SIGTERM.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startTestChain, type TestChain } from '../helpers/chain.js';
import { CLI_ENTRY, ROOT, runCli, tempDir } from '../helpers/cli.js';
import { storeBytes, storeUnderTest } from '../helpers/stores.js';
import { setupWorld, type World } from './fixtures.js';

let chain: TestChain;
let world: World;
let home: string;
let cleanup: () => void;
let smsProc: ChildProcess | undefined;
let smsStderr = '';
const store = storeUnderTest();
/** `--db` for every `sms start` of this home: none for SQLite (its file under the home). */
let dbArgs: string[] = [];
const DATASET_KEY = randomBytes(32).toString('base64');
const REQ_SECRET = `req-${randomBytes(12).toString('hex')}`;
const APP_SECRET = `app-${randomBytes(12).toString('hex')}`;

const env = (who?: 'datasetOwner' | 'appDev' | 'requester') => ({
  SEALWORK_HOME: home,
  SEALWORK_CHAIN_URL: chain.url,
  SEALWORK_SMS_MASTER_KEY: undefined,
  SEALWORK_PRIVATE_KEY: who
    ? chain.accounts[{ datasetOwner: 2, appDev: 1, requester: 4 }[who]]!.privateKey
    : undefined,
});

async function waitFor(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timeout waiting for ${what}\n${smsStderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Start `sealwork sms start` as a child; resolves once it recorded its URL. */
async function startSms(
  extraEnv: Record<string, string> = {},
  extraArgs: string[] = [],
): Promise<ChildProcess> {
  const rec = join(home, 'sms', 'sms.json');
  const before = existsSync(rec) ? readFileSync(rec, 'utf8') : '';
  smsStderr = '';
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      CLI_ENTRY,
      'sms',
      'start',
      '--port',
      '0',
      '--allow-simulation',
      ...dbArgs,
      ...extraArgs,
    ],
    {
      cwd: ROOT,
      env: { ...process.env, ...env(), ...extraEnv } as NodeJS.ProcessEnv,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  child.stderr!.on('data', (d) => (smsStderr += d));
  child.stdout!.resume();
  let exited = false;
  child.on('exit', () => (exited = true));
  await waitFor(
    () => exited || (existsSync(rec) && readFileSync(rec, 'utf8') !== before),
    30_000,
    'sms start',
  );
  assert.ok(!exited, `sms start exited early:\n${smsStderr}`);
  return child;
}

const exit = (c: ChildProcess) =>
  new Promise<{ code: number | null; signal: string | null }>((r) =>
    c.once('exit', (code, signal) => r({ code, signal })),
  );

before(async () => {
  chain = await startTestChain();
  world = await setupWorld(chain);
  const t = tempDir('sealwork-sms-cli-');
  home = t.dir;
  cleanup = t.cleanup;
  await chain.saveTo(home);
  const db = await store.db();
  dbArgs = db ? ['--db', db] : [];
  smsProc = await startSms();
});
after(async () => {
  if (smsProc && smsProc.exitCode === null) {
    smsProc.kill('SIGKILL');
    await exit(smsProc);
  }
  await chain?.stop();
  cleanup?.();
});

describe('sealwork sms (CLI)', () => {
  it('sms start generated a 0600 master key and an attested certificate (its key never on disk), and answers /health', async () => {
    const mode = statSync(join(home, 'sms', 'master.key')).mode & 0o777;
    assert.equal(mode, 0o600);
    assert.deepEqual(readdirSync(join(home, 'sms', 'tls')), ['attested-cert.pem']);
    const r = await runCli(['sms', 'status', '--json'], { env: env() });
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout) as { health: { status: string; db: string } };
    assert.equal(j.health.status, 'ok');
    assert.equal(j.health.db, store.kind);
  });

  it('dataset push-secret from a key file: pushed, then refused as existing (409)', async () => {
    const keyFile = join(home, 'data.key');
    writeFileSync(keyFile, `${DATASET_KEY}\n`, { mode: 0o600 });
    let r = await runCli(['dataset', 'push-secret', world.dataset, '--key-file', keyFile, '--json'], {
      env: env('datasetOwner'),
    });
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.equal((JSON.parse(r.stdout) as { pushed: boolean }).pushed, true);
    r = await runCli(['dataset', 'push-secret', world.dataset, '--key-file', keyFile], {
      env: env('datasetOwner'),
    });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /SECRET_EXISTS/);
    assert.ok(!r.stderr.includes(DATASET_KEY) && !r.stdout.includes(DATASET_KEY), 'the key is never printed');
    // The SMS logged the push (so its log is where the key would be), and not the key itself.
    await waitFor(() => smsStderr.includes('"msg":"secret stored"'), 10_000, 'the push in the SMS log');
    assert.ok(!smsStderr.includes(DATASET_KEY), 'the key is never logged');
    assert.ok(!smsStderr.includes(Buffer.from(DATASET_KEY, 'base64').toString('hex')));
  });

  it('a non-owner is refused with the expected signer named', async () => {
    const keyFile = join(home, 'other.key');
    writeFileSync(keyFile, randomBytes(32).toString('base64'));
    const ds = await (
      await import('../../src/chain/index.js')
    ).createDataset(world.roles.datasetOwner, {
      name: 'd2',
      multiaddr: 'https://x/d2.enc',
      checksum: `0x${'55'.repeat(32)}`,
    });
    const r = await runCli(['dataset', 'push-secret', ds.address, '--key-file', keyFile], {
      env: env('requester'),
    });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /SMS_UNAUTHORIZED/);
    assert.match(r.stderr, new RegExp(world.roles.datasetOwner.account.address, 'i'));
  });

  it('requester and app secrets from stdin; secret check reports them (values never shown)', async () => {
    let r = await runCli(['requester', 'push-secret', 'api-token', '--json'], {
      env: env('requester'),
      input: `${REQ_SECRET}\n`,
    });
    assert.equal(r.code, 0, r.stderr);
    r = await runCli(['app', 'push-secret', world.app], { env: env('appDev'), input: APP_SECRET });
    assert.equal(r.code, 0, r.stderr);
    r = await runCli(
      ['secret', 'check', 'requester', world.roles.requester.account.address, 'api-token', '--json'],
      { env: env() },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal((JSON.parse(r.stdout) as { exists: boolean }).exists, true);
    r = await runCli(['secret', 'check', 'app', world.app], { env: env() });
    assert.match(r.stdout, /present/);
    assert.ok(!r.stdout.includes(APP_SECRET));
  });

  it('result generate-key (RSA-4096, private key 0600) and result push-key', async () => {
    let r = await runCli(['result', 'generate-key', '--json'], { env: env() });
    assert.equal(r.code, 0, r.stderr);
    const k = JSON.parse(r.stdout) as { privateKeyFile: string; publicKeyFile: string };
    assert.equal(statSync(k.privateKeyFile).mode & 0o777, 0o600);
    const { createPublicKey } = await import('node:crypto');
    const pub = createPublicKey(readFileSync(k.publicKeyFile, 'utf8'));
    assert.equal(pub.asymmetricKeyDetails?.modulusLength, 4096);
    r = await runCli(['result', 'push-key', '--json'], { env: env('requester') });
    assert.equal(r.code, 0, r.stderr);
    r = await runCli(['secret', 'check', 'result-key', world.roles.requester.account.address, '--json'], {
      env: env(),
    });
    assert.equal((JSON.parse(r.stdout) as { exists: boolean }).exists, true);
  });

  it('an acknowledged push survives kill -9, and the database files hold no secret in clear', async () => {
    smsProc!.kill('SIGKILL');
    await exit(smsProc!);
    const raw = await storeBytes(store.kind, join(home, 'sms', 'sms.db'));
    for (const needle of [
      Buffer.from(DATASET_KEY),
      Buffer.from(DATASET_KEY, 'base64'),
      Buffer.from(REQ_SECRET),
      Buffer.from(APP_SECRET),
      Buffer.from('BEGIN PUBLIC KEY'),
    ])
      assert.equal(raw.indexOf(needle), -1, `found a secret in clear in the ${store.kind} files`);
    smsProc = await startSms();
    const r = await runCli(['secret', 'check', 'dataset', world.dataset, '--json'], { env: env() });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      (JSON.parse(r.stdout) as { exists: boolean }).exists,
      true,
      'the push acknowledged before kill -9 is still there',
    );
  });

  it('SIGTERM shuts down gracefully (exit 0, record removed)', async () => {
    smsProc!.kill('SIGTERM');
    const e = await exit(smsProc!);
    assert.equal(e.code, 0, smsStderr);
    assert.equal(existsSync(join(home, 'sms', 'sms.json')), false);
    assert.match(smsStderr, /"msg":"sms stopped"/);
  });

  it('refuses to start with another master key (SMS_MASTER_KEY_MISMATCH)', async () => {
    const r = await runCli(['sms', 'start', '--port', '0', ...dbArgs], {
      env: { ...env(), SEALWORK_SMS_MASTER_KEY: randomBytes(32).toString('base64') },
      timeoutMs: 30_000,
    });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /SMS_MASTER_KEY_MISMATCH/);
  });

  it('refuses an invalid --policy before starting (POLICY_INVALID)', async () => {
    const policy = join(home, 'policy.json');
    writeFileSync(policy, JSON.stringify({ acceptedTcbStatuses: ['Great'], allowDebug: 'yes' }));
    const r = await runCli(['sms', 'start', '--port', '0', ...dbArgs, '--policy', policy], {
      env: env(),
      timeoutMs: 30_000,
    });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /POLICY_INVALID/);
    assert.match(r.stderr, /acceptedTcbStatuses/);
  });

  it('--workers 2 serves one port from two processes and stops them all on SIGTERM', async () => {
    const proc = await startSms({}, ['--workers', '2']);
    try {
      let r = await runCli(['sms', 'status', '--json'], { env: env() });
      assert.equal(r.code, 0, r.stderr);
      r = await runCli(['requester', 'push-secret', 'multi'], { env: env('requester'), input: 'v' });
      assert.equal(r.code, 0, r.stderr);
      r = await runCli(
        ['secret', 'check', 'requester', world.roles.requester.account.address, 'multi', '--json'],
        { env: env() },
      );
      assert.equal((JSON.parse(r.stdout) as { exists: boolean }).exists, true);
      assert.equal((smsStderr.match(/"msg":"sms worker started"/g) ?? []).length, 2);
    } finally {
      proc.kill('SIGTERM');
      const e = await exit(proc);
      assert.equal(e.code, 0, smsStderr);
    }
    assert.equal(existsSync(join(home, 'sms', 'sms.json')), false);
  });
});
