import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { TaskJournal } from '../../src/worker/journal.js';
import { tempDir } from '../helpers/cli.js';

const T1 = `0x${'11'.repeat(32)}` as const;
const T2 = `0x${'22'.repeat(32)}` as const;
const D = `0x${'dd'.repeat(32)}` as const;

describe('task journal', () => {
  const t = tempDir();
  after(t.cleanup);

  it('is WAL with synchronous FULL, and adding a task is idempotent', () => {
    const j = TaskJournal.open(join(t.dir, 'a.db'));
    assert.equal(
      (j as unknown as { db: { pragma(s: string, o: object): unknown } }).db.pragma('journal_mode', {
        simple: true,
      }),
      'wal',
    );
    assert.equal(
      (j as unknown as { db: { pragma(s: string, o: object): unknown } }).db.pragma('synchronous', {
        simple: true,
      }),
      2,
    );
    assert.equal(j.add(T1, D, 0), true);
    assert.equal(j.add(T1, D, 0), false);
    assert.equal(j.get(T1)?.step, 'pending');
    j.close();
  });

  it('moves steps by compare-and-set only: a step cannot be done twice', () => {
    const j = TaskJournal.open(join(t.dir, 'b.db'));
    j.add(T1, D, 0);
    assert.equal(j.advance(T1, 'pending', 'initialized'), true);
    assert.equal(
      j.advance(T1, 'pending', 'initialized'),
      false,
      'second transition from the same step refused',
    );
    assert.equal(j.advance(T1, 'initialized', 'contributing', { txHash: `0x${'ab'.repeat(32)}` }), true);
    assert.equal(j.get(T1)?.txHash, `0x${'ab'.repeat(32)}`);
    assert.equal(j.advance(T1, 'contributing', 'completed'), true);
    assert.equal(j.fail(T1, { code: 'X', message: 'late' }), false, 'a completed task cannot fail');
    j.add(T2, D, 1);
    assert.equal(j.fail(T2, { code: 'APP_EXIT_NONZERO', message: 'the app exited with 3' }), true);
    assert.deepEqual(j.get(T2)?.cause, { code: 'APP_EXIT_NONZERO', message: 'the app exited with 3' });
    assert.deepEqual(
      j.unfinished().map((x) => x.taskId),
      [],
    );
    assert.deepEqual(
      j.list({ steps: ['failed'] }).map((x) => x.taskId),
      [T2.toLowerCase()],
    );
    assert.deepEqual(
      j.list({ dealId: D.toUpperCase().replace('0X', '0x') }).map((x) => x.step),
      ['completed', 'failed'],
    );
    assert.deepEqual(j.list({ steps: [] }), []);
    assert.deepEqual(
      j.history(T1).map((h) => h.step),
      ['pending', 'initialized', 'contributing', 'completed'],
    );
    j.close();
  });

  it('an acknowledged step survives kill -9 of the writer', async () => {
    const path = join(t.dir, 'c.db');
    const script = `
      import { TaskJournal } from ${JSON.stringify(new URL('../../src/worker/journal.ts', import.meta.url).href)};
      const j = TaskJournal.open(${JSON.stringify(path)});
      j.add('${T1}', '${D}', 0);
      j.advance('${T1}', 'pending', 'initialized');
      j.add('${T2}', '${D}', 1);
      process.stdout.write('acked\\n');
      setInterval(() => {}, 1000);
    `;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await new Promise<void>((resolve) =>
      child.stdout.on('data', (d) => String(d).includes('acked') && resolve()),
    );
    child.kill('SIGKILL');
    await new Promise((r) => child.on('close', r));
    const j = TaskJournal.open(path);
    assert.equal(j.get(T1)?.step, 'initialized');
    assert.deepEqual(
      j.unfinished().map((x) => [x.taskId, x.step]),
      [
        [T1, 'initialized'],
        [T2, 'pending'],
      ],
    );
    j.close();
  });
});
