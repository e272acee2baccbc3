import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildBaseImage } from '../../src/enclave/base-image.js';
import { openImage } from '../../src/enclave/oci.js';
import { tempDir } from '../helpers/cli.js';
import { NEEDS_BUSYBOX, requires } from '../helpers/prereq.js';

describe('base images from Debian packages', { skip: requires('base images', [NEEDS_BUSYBOX]) }, () => {
  let t: ReturnType<typeof tempDir>;
  const saved = process.env.SOURCE_DATE_EPOCH;
  before(() => (t = tempDir('sealwork-base-')));
  after(() => {
    if (saved === undefined) delete process.env.SOURCE_DATE_EPOCH;
    else process.env.SOURCE_DATE_EPOCH = saved;
    t.cleanup();
  });
  const build = (out: string) =>
    buildBaseImage({ name: 'shell', builder: 'host', out: join(t.dir, out), workDir: t.dir });

  it('is reproducible, labels its packages, and depends on SOURCE_DATE_EPOCH', async () => {
    delete process.env.SOURCE_DATE_EPOCH;
    const a = await build('a');
    const b = await build('b');
    assert.equal(a.digest, b.digest);
    const version = execFileSync('dpkg-query', ['-W', '-f', '${Version}', 'busybox-static'], {
      encoding: 'utf8',
    });
    assert.deepEqual(a.packages, [`busybox-static=${version}`]);
    const img = await openImage(a.out, { workDir: t.dir });
    await img.cleanup();
    assert.equal(img.config.config?.Labels?.['io.sealwork.packages'], `busybox-static=${version}`);
    assert.equal(img.config.config?.Labels?.['io.sealwork.builder'], 'host');
    process.env.SOURCE_DATE_EPOCH = '1700000000';
    const c = await build('c');
    assert.notEqual(c.digest, a.digest);
    process.env.SOURCE_DATE_EPOCH = 'yesterday';
    await assert.rejects(build('d'), { code: 'SOURCE_DATE_EPOCH_INVALID' });
  });
});
