/**
 * Sealed storage: AES-256-GCM with the row identity as AAD, the master key file, and the same
 * behaviour on a real PostgreSQL server (started here with initdb + pg_ctl; skipped when absent).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmodSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openSimPlatform } from '../../src/attestation/index.js';
import { isSealworkError } from '../../src/errors.js';
import { createSealer, loadMasterKey, openPostgresStore, openSqliteStore } from '../../src/sms/index.js';
import { decryptSessionJwe, type SessionSecrets } from '../../src/protocol/index.js';
import { pgStoreError, secretAad } from '../../src/sms/store.js';
import { startTestChain, type TestChain } from '../helpers/chain.js';
import { tempDir } from '../helpers/cli.js';
import { NEEDS_POSTGRES, startTestPostgres, type TestPostgres } from '../helpers/postgres.js';
import { startTestSms, type TestSms } from '../helpers/sms.js';
import { sessionRequest, setupWorld } from './fixtures.js';
import { requires } from '../helpers/prereq.js';

describe('sealing', () => {
  const sealer = createSealer(randomBytes(32));
  const id = { kind: 'web3' as const, owner: '0x' + '11'.repeat(20), name: '' };
  it('round-trips, and the sealed bytes do not contain the value', () => {
    const sealed = sealer.seal('top secret value', secretAad(id));
    assert.equal(sealed.indexOf(Buffer.from('top secret')), -1);
    assert.equal(sealer.open(sealed, secretAad(id)).toString(), 'top secret value');
  });
  it('a sealed value moved to another row, altered, or opened under another key does not open', () => {
    const sealed = sealer.seal('v', secretAad(id));
    const other = secretAad({ ...id, owner: '0x' + '22'.repeat(20) });
    assert.throws(
      () => sealer.open(sealed, other),
      (e: unknown) => isSealworkError(e, 'SMS_SEALED_VALUE_CORRUPT'),
    );
    const tampered = Buffer.from(sealed);
    tampered[tampered.length - 1]! ^= 1;
    assert.throws(
      () => sealer.open(tampered, secretAad(id)),
      (e: unknown) => isSealworkError(e, 'SMS_SEALED_VALUE_CORRUPT'),
    );
    assert.throws(
      () => createSealer(randomBytes(32)).open(sealed, secretAad(id)),
      (e: unknown) => isSealworkError(e, 'SMS_SEALED_VALUE_CORRUPT'),
    );
  });
});

describe('master key', () => {
  it('is generated once as a 0600 file, reused, refused when readable by others, and taken from the env', async () => {
    const t = tempDir();
    try {
      const a = await loadMasterKey(t.dir, {});
      assert.equal(a.created, true);
      assert.equal(statSync(a.path!).mode & 0o777, 0o600);
      const b = await loadMasterKey(t.dir, {});
      assert.equal(b.created, false);
      assert.deepEqual(b.key, a.key);
      chmodSync(a.path!, 0o644);
      await assert.rejects(loadMasterKey(t.dir, {}), (e: unknown) =>
        isSealworkError(e, 'SMS_MASTER_KEY_EXPOSED'),
      );
      const hex = randomBytes(32).toString('hex');
      const c = await loadMasterKey(t.dir, { SEALWORK_SMS_MASTER_KEY: hex });
      assert.equal(c.source, 'env');
      assert.equal(c.key.toString('hex'), hex);
      await assert.rejects(loadMasterKey(t.dir, { SEALWORK_SMS_MASTER_KEY: 'short' }), (e: unknown) =>
        isSealworkError(e, 'SMS_MASTER_KEY_INVALID'),
      );
    } finally {
      t.cleanup();
    }
  });
});

describe('PostgreSQL failures: out of reach (503) or not, by error class and SQLSTATE', () => {
  it('maps connection, resource and shutdown states and answerless failures to SMS_STORE_UNAVAILABLE, nothing else', async () => {
    const { default: pg } = await import('pg');
    const url = 'postgres://sms:pw@127.0.0.1:1/sms';
    const answer = (code: string) => Object.assign(new pg.DatabaseError('any text', 0, 'error'), { code });
    for (const down of [
      answer('08006'),
      answer('53300'),
      answer('57P01'),
      answer('57P03'),
      Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }),
      new Error('Connection terminated unexpectedly'),
    ]) {
      const e = pgStoreError(down, pg.DatabaseError, url);
      assert.ok(isSealworkError(e, 'SMS_STORE_UNAVAILABLE'), String(down));
      assert.ok(!e.message.includes(':pw@'), 'the password is never in the message');
    }
    // The server answered something else, or our own bad argument: not an outage (500).
    for (const other of [answer('23505'), answer('42P01'), answer('57014'), new TypeError('bad param')])
      assert.equal(pgStoreError(other, pg.DatabaseError, url), other);
    // By SQLSTATE, never by the text: an answer that reads like an outage is not one.
    const reads = Object.assign(
      new pg.DatabaseError('server closed the connection unexpectedly', 0, 'error'),
      { code: '22001' },
    );
    assert.equal(pgStoreError(reads, pg.DatabaseError, url), reads);
  });
});

describe('SQLite store', () => {
  it('runs in WAL mode with synchronous=FULL', async () => {
    const t = tempDir();
    try {
      const s = await openSqliteStore(join(t.dir, 'sms.db'));
      // synchronous is a setting of the store's own connection: ask that connection.
      assert.deepEqual(await s.durability(), { journal: 'wal', synchronous: 'FULL' });
      await s.close();
      const { default: Database } = await import('better-sqlite3');
      const db = new Database(join(t.dir, 'sms.db'), { readonly: true });
      assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
      db.close();
    } finally {
      t.cleanup();
    }
  });
});

describe(
  'PostgreSQL store (same behaviour)',
  {
    skip: requires('PostgreSQL store', [NEEDS_POSTGRES]),
  },
  () => {
    let pg: TestPostgres;
    let chain: TestChain;
    before(async () => {
      [pg, chain] = await Promise.all([startTestPostgres(), startTestChain()]);
    });
    after(async () => {
      await chain?.stop();
      await pg?.stop();
    });

    it('commits synchronously (synchronous_commit on)', async () => {
      const store = await openPostgresStore(pg.url);
      try {
        assert.deepEqual(await store.durability(), { journal: 'wal', synchronous: 'on' });
      } finally {
        await store.close();
      }
    });

    it('pushes, refuses duplicates, releases a session, and keeps everything sealed across restarts', async () => {
      const world = await setupWorld(chain);
      const t = tempDir();
      let sms: TestSms | undefined;
      try {
        sms = await startTestSms({ chain, home: t.dir, db: pg.url });
        assert.equal((await sms.client.health()).db, 'postgres');
        const key = randomBytes(32).toString('base64');
        const secret = `pg-secret-${randomBytes(8).toString('hex')}`;
        await sms.client.pushDatasetSecret(world.roles.datasetOwner.account, world.dataset, key);
        await assert.rejects(
          sms.client.pushDatasetSecret(world.roles.datasetOwner.account, world.dataset, key),
          /SECRET_EXISTS|already exists/,
        );
        await sms.client.pushRequesterSecret(world.roles.requester.account, 'pgname', secret);
        await sms.client.pushWeb2Secret(world.roles.requester.account, 'w2', 'one');
        await sms.client.pushWeb2Secret(world.roles.requester.account, 'w2', 'two', { update: true });

        const deal = await world.deal({ withDataset: true, params: { iexec_secrets: { '1': 'pgname' } } });
        const task = await world.initialize(deal, 0);
        const challenge = await sms.client.getEnclaveChallenge(world.roles.scheduler.account, task);
        const platform = await openSimPlatform(t.dir);
        const { req, key: enclaveKey } = await sessionRequest({
          client: sms.client,
          platform,
          world,
          taskId: task,
          dealId: deal,
          taskIndex: 0,
          challenge,
        });
        const res = await sms.client.openSession(world.roles.worker.account, req);
        const s = await decryptSessionJwe<SessionSecrets>(res.jwe, enclaveKey.privateKey);
        assert.equal(s.dataset?.key, key);
        assert.deepEqual(s.requesterSecrets, { '1': secret });
        await sms.stop();
        sms = undefined;

        // Restart on the same database: still there, still immutable; nothing in clear in PostgreSQL.
        sms = await startTestSms({ chain, home: t.dir, db: pg.url });
        assert.equal(await sms.client.hasDatasetSecret(world.dataset), true);
        const { default: pgLib } = await import('pg');
        const c = new pgLib.Client({ connectionString: pg.url });
        await c.connect();
        const rows = await c.query<{ value: Buffer }>('SELECT value FROM secrets');
        const challengeRows = await c.query<{ private_key: Buffer }>(
          'SELECT private_key FROM tee_challenges',
        );
        const audit = await c.query<{ verdict: string; secrets: string }>(
          'SELECT verdict, secrets FROM audit_log',
        );
        await c.end();
        assert.equal(rows.rows.length, 3);
        const all = Buffer.concat([
          ...rows.rows.map((r) => r.value),
          ...challengeRows.rows.map((r) => r.private_key),
        ]);
        for (const needle of [key, secret, 'two', s.enclaveChallenge.privateKey.slice(2)])
          assert.equal(all.indexOf(Buffer.from(needle)), -1, 'secret in clear in PostgreSQL');
        assert.equal(all.indexOf(Buffer.from(key, 'base64')), -1);
        assert.ok(audit.rows.some((r) => r.verdict === 'released' && r.secrets.includes('requester:pgname')));
      } finally {
        await sms?.stop();
        t.cleanup();
      }
    });
  },
);
