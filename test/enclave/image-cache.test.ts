import assert from 'node:assert/strict';
import { promises as fs, chmodSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildApp, runEnclave, type BuildAppReturnType } from '../../src/enclave/index.js';
import { tempDir } from '../helpers/cli.js';
import { busyboxImage } from '../helpers/images.js';
import { NEEDS_BUSYBOX, NEEDS_BWRAP, requires } from '../helpers/prereq.js';

const skip = requires('the verified image cache (bubblewrap)', [NEEDS_BUSYBOX, NEEDS_BWRAP]);

const SCRIPT = `#!/bin/sh
cat /app/msg.txt
echo x > /app/x 2>/dev/null && echo ROOT-WRITABLE
exit 0
`;

describe('verified image cache', { skip }, () => {
  let t: { dir: string; cleanup: () => void };
  let parent: string;
  let src: string;
  let a: BuildAppReturnType;
  let b: BuildAppReturnType;
  let enc: BuildAppReturnType;
  let n = 0;
  const cacheDir = () => join(parent, `cache-${n}`);
  const entries = (dir: string) => readdirSync(dir).filter((e) => /^[0-9a-f]{64}$/.test(e));
  const run = (app: BuildAppReturnType, dir: string, maxBytes = 1024 ** 3, over: { fspfTag?: string } = {}) =>
    runEnclave({
      image: app.out,
      fspfKey: app.fspfKey,
      fspfTag: over.fspfTag ?? app.fspfTag,
      ...(app.fsKeyFile ? { fsKeyFile: app.fsKeyFile } : {}),
      outDir: join(t.dir, `out-${n++}`),
      timeoutMs: 20_000,
      imageCache: { dir, maxBytes },
    });
  const build = (name: string, regions: string[]) =>
    buildApp({
      image: src,
      out: join(t.dir, name),
      entrypoint: '/app/run.sh',
      heap: '64M',
      regions,
      home: t.dir,
      workDir: t.dir,
    });

  before(async () => {
    t = tempDir('sealwork-image-cache-');
    parent = mkdtempSync('/var/tmp/sealwork-test-cache-');
    chmodSync(parent, 0o711);
    src = await busyboxImage(join(t.dir, 'src'), [
      { name: 'app/', type: 'directory' },
      { name: 'app/run.sh', data: SCRIPT, mode: 0o755 },
      { name: 'app/msg.txt', data: 'hello from the image\n', mode: 0o644 },
    ]);
    // Two builds of the same source: the same files under a different FSPF key and tag.
    a = await build('a', ['/:authenticated']);
    b = await build('b', ['/:authenticated']);
    enc = await build('enc', ['/:authenticated', '/app:encrypted']);
  });
  after(() => {
    rmSync(parent, { recursive: true, force: true });
    t.cleanup();
  });

  it('serves a second run from the cache, read-only and owned by sealwork, not by the run uid', async () => {
    const dir = cacheDir();
    const first = await run(a, dir);
    assert.equal(first.exitCode, 0, first.stderr);
    assert.deepEqual([first.imageCache.hit, first.imageCache.stored], [false, true]);
    const second = await run(a, dir);
    assert.equal(second.imageCache.hit, true);
    assert.equal(second.stdout, 'hello from the image\n');
    assert.doesNotMatch(second.stdout, /ROOT-WRITABLE/);
    const [key] = entries(dir);
    const file = await fs.stat(join(dir, key!, 'root', 'app', 'msg.txt'));
    assert.equal(file.uid, process.geteuid!());
    if (process.geteuid!() === 0) assert.notEqual(second.sandboxUid, 0); // a dedicated uid, not the owner
    assert.equal(file.mode & 0o022, 0);
    assert.equal((await fs.stat(dir)).mode & 0o777 & ~0o711, 0);
    assert.equal((await fs.stat(join(dir, key!, 'entry.json'))).mode & 0o777, 0o600);
  });

  it('detects a file changed inside the cache, drops the entry and rebuilds it from the image', async () => {
    const dir = cacheDir();
    await run(a, dir);
    const [key] = entries(dir);
    await fs.appendFile(join(dir, key!, 'root', 'app', 'msg.txt'), 'TAMPERED\n');
    const r = await run(a, dir);
    assert.deepEqual([r.imageCache.hit, r.imageCache.rebuilt, r.imageCache.stored], [false, true, true]);
    assert.equal(r.stdout, 'hello from the image\n');
    const again = await run(a, dir);
    assert.equal(again.imageCache.hit, true);
    assert.equal(again.stdout, 'hello from the image\n');
  });

  it('keeps a different FSPF key and tag as a different entry, and still refuses a wrong tag', async () => {
    const dir = cacheDir();
    await run(a, dir);
    const rb = await run(b, dir);
    assert.equal(rb.imageCache.hit, false);
    assert.equal(entries(dir).length, 2);
    await assert.rejects(run(a, dir, 1024 ** 3, { fspfTag: b.fspfTag }));
    assert.equal((await run(b, dir)).imageCache.hit, true);
  });

  it('evicts the least recently used entry when the cache outgrows its limit', async () => {
    const dir = cacheDir();
    await run(a, dir);
    const [ka] = entries(dir);
    const bytes = JSON.parse(await fs.readFile(join(dir, ka!, 'entry.json'), 'utf8')).bytes as number;
    const limit = bytes + Math.floor(bytes / 2); // room for one entry, not two
    const rb = await run(b, dir, limit);
    assert.equal(rb.imageCache.stored, true);
    assert.equal(entries(dir).length, 1);
    assert.notEqual(entries(dir)[0], ka);
    assert.equal((await run(a, dir, limit)).imageCache.hit, false);
  });

  it('does not cache an image with an encrypted region', async () => {
    const dir = cacheDir();
    const r = await run(enc, dir);
    assert.equal(r.exitCode, 0, r.stderr);
    assert.equal(r.imageCache.stored, false);
    assert.match(r.imageCache.reason ?? '', /encrypted/);
    assert.equal(entries(dir).length, 0);
  });
});
