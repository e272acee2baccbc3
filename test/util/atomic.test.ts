import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { atomicTarget, writeFileAtomic } from '../../src/util/atomic.js';
import { ROOT, tempDir } from '../helpers/cli.js';

let tmp: { dir: string; cleanup: () => void };
before(() => {
  tmp = tempDir();
});
after(() => tmp.cleanup());

describe('atomic writes', () => {
  it('hold signal handlers only while a write is in progress', async () => {
    const base = process.listenerCount('SIGINT');
    const baseTerm = process.listenerCount('SIGTERM');
    const t = await atomicTarget(join(tmp.dir, 'a.txt'));
    assert.equal(process.listenerCount('SIGINT'), base + 1);
    await fs.writeFile(t.tmpPath, 'x');
    await t.commit();
    assert.equal(process.listenerCount('SIGINT'), base);
    await writeFileAtomic(join(tmp.dir, 'b.txt'), 'y', { mode: 0o600 });
    assert.equal(process.listenerCount('SIGTERM'), baseTerm);
    assert.equal((await fs.stat(join(tmp.dir, 'b.txt'))).mode & 0o777, 0o600);
    const aborted = await atomicTarget(join(tmp.dir, 'c.txt'));
    await fs.writeFile(aborted.tmpPath, 'z');
    await aborted.abort();
    assert.equal(existsSync(aborted.tmpPath), false);
    assert.equal(existsSync(join(tmp.dir, 'c.txt')), false);
    assert.equal(process.listenerCount('SIGINT'), base);
  });

  it("remove the partial file on SIGTERM but leave a service's own graceful shutdown in charge", () => {
    const target = join(tmp.dir, 'service.out');
    const script = `
      import { writeFileSync } from 'node:fs';
      import { atomicTarget } from ${JSON.stringify(join(ROOT, 'src/util/atomic.ts'))};
      const t = await atomicTarget(${JSON.stringify(target)});
      writeFileSync(t.tmpPath, 'partial');
      console.log(t.tmpPath);
      process.on('SIGTERM', () => { console.log('graceful'); setTimeout(() => process.exit(0), 50); });
      process.kill(process.pid, 'SIGTERM');
      setTimeout(() => {}, 5000);
    `;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    const [tmpPath, said] = r.stdout.trim().split('\n');
    assert.equal(said, 'graceful', r.stderr);
    assert.equal(r.status, 0, 'the service exited through its own handler');
    assert.equal(existsSync(tmpPath!), false, 'the partial file was removed');
    assert.equal(existsSync(target), false);
  });
});
