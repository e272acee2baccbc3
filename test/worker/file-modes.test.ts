/**
 * Files holding a secret, a signature or a plaintext result are 0600 in 0700 folders: the worker
 * journal (the scheduler's authorization signatures), the SMS database (and their SQLite -wal and
 * -shm files), and a result unzipped for the requester.
 */
import assert from 'node:assert/strict';
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { openSqliteStore } from '../../src/sms/index.js';
import { writeResultEntries } from '../../src/sdk/worker/result-verify.js';
import { TaskJournal } from '../../src/worker/journal.js';
import { zipEntries } from '../../src/worker/zip.js';
import { tempDir } from '../helpers/cli.js';

const mode = (p: string) => statSync(p).mode & 0o777;
const T1 = `0x${'11'.repeat(32)}` as const;
const D = `0x${'dd'.repeat(32)}` as const;

describe('file modes', () => {
  const t = tempDir();
  after(t.cleanup);
  const oldUmask = process.umask(0o022); // the usual umask: 0644 files unless asked otherwise
  after(() => process.umask(oldUmask));

  it('the worker journal and its -wal/-shm are 0600 in a 0700 folder, also when they existed 0644', () => {
    const path = join(t.dir, 'home', 'worker', 'journal.db');
    const j = TaskJournal.open(path);
    j.add(T1, D, 0);
    for (const p of [path, `${path}-wal`, `${path}-shm`]) {
      assert.ok(existsSync(p), p);
      assert.equal(mode(p).toString(8), '600', p);
    }
    assert.equal(mode(join(t.dir, 'home', 'worker')).toString(8), '700');
    j.close();
    // A journal left 0644 by an older version is tightened when opened.
    const old = join(t.dir, 'old.db');
    writeFileSync(old, '', { mode: 0o644 });
    TaskJournal.open(old).close();
    assert.equal(mode(old).toString(8), '600');
  });

  it('sms.db and its -wal/-shm are 0600 in a 0700 folder', async () => {
    const path = join(t.dir, 'sms', 'sms.db');
    const store = await openSqliteStore(path);
    try {
      await store.setMeta('k', 'v');
      for (const p of [path, `${path}-wal`, `${path}-shm`]) {
        assert.ok(existsSync(p), p);
        assert.equal(mode(p).toString(8), '600', p);
      }
      assert.equal(mode(join(t.dir, 'sms')).toString(8), '700');
    } finally {
      await store.close();
    }
  });

  it('an unzipped result is 0600 files in 0700 folders', async () => {
    const zip = await zipEntries([
      { name: 'computed.json', data: Buffer.from('{}') },
      { name: 'sub/deep/result.txt', data: Buffer.from('secret') },
    ]);
    const dir = join(t.dir, 'result');
    await writeResultEntries(zip, dir);
    assert.equal(mode(join(dir, 'computed.json')).toString(8), '600');
    assert.equal(mode(join(dir, 'sub', 'deep', 'result.txt')).toString(8), '600');
    assert.equal(mode(dir).toString(8), '700');
    assert.equal(mode(join(dir, 'sub')).toString(8), '700');
    assert.equal(mode(join(dir, 'sub', 'deep')).toString(8), '700');
  });
});
