import assert from 'node:assert/strict';
import { cpSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildApp, runEnclave, type BuildAppReturnType } from '../../src/enclave/index.js';
import { isSealworkError, type ErrorCode } from '../../src/errors.js';
import { tempDir } from '../helpers/cli.js';
import { appendLayer, BUSYBOX, busyboxImage, type LayerEntry } from '../helpers/images.js';
import { NEEDS_BUSYBOX, NEEDS_BWRAP, requires } from '../helpers/prereq.js';

const skip = requires('FSPF tamper cases', [NEEDS_BUSYBOX, NEEDS_BWRAP]);

describe('FSPF: every tamper case refuses to start and names the file', { skip }, () => {
  let t: ReturnType<typeof tempDir>;
  let built: BuildAppReturnType;
  let n = 0;
  before(async () => {
    t = tempDir('sealwork-enclave-tamper-');
    const src = await busyboxImage(join(t.dir, 'src'), [
      { name: 'app/', type: 'directory' },
      { name: 'app/run.sh', data: '#!/bin/sh\n. /app/lib.sh\necho ran > /iexec_out/ran\n', mode: 0o755 },
      { name: 'app/lib.sh', data: 'X=1\n' },
      { name: 'data/', type: 'directory' },
      { name: 'data/model.bin', data: 'weights-weights-weights' },
      { name: 'scratch/', type: 'directory' },
    ]);
    built = await buildApp({
      image: src,
      out: join(t.dir, 'protected'),
      entrypoint: '/app/run.sh',
      regions: ['/:authenticated', '/data:encrypted', '/scratch:not-protected'],
      home: t.dir,
      workDir: t.dir,
    });
  });
  after(() => t.cleanup());

  /** A copy of the protected image with one more layer. */
  async function tampered(entries: LayerEntry[]): Promise<string> {
    const dir = join(t.dir, `tampered-${n++}`);
    cpSync(built.out, dir, { recursive: true });
    if (entries.length > 0) await appendLayer(dir, entries);
    return dir;
  }
  async function run(image: string, over: Partial<Parameters<typeof runEnclave>[0]> = {}) {
    const outDir = join(t.dir, `out-${n++}`);
    const r = await runEnclave({
      image,
      fspfKey: built.fspfKey,
      fspfTag: built.fspfTag,
      fsKeyFile: built.fsKeyFile,
      outDir,
      workDir: t.dir,
      timeoutMs: 20_000,
      ...over,
    }).then(
      (ok) => ({ ok }),
      (error: unknown) => ({ error }),
    );
    return { ...r, ran: existsSync(join(outDir, 'ran')) };
  }
  function refused(r: Awaited<ReturnType<typeof run>>, code: ErrorCode, file: string) {
    assert.ok('error' in r, `expected ${code}, but the app ran`);
    assert.ok(isSealworkError(r.error, code), `expected ${code}, got ${String((r.error as Error).message)}`);
    assert.equal(r.error.details?.file, file);
    assert.ok(r.error.message.includes(file), r.error.message);
    assert.equal(r.ran, false, 'the app must not have started');
  }

  it('runs the untouched image (control)', async () => {
    const r = await run(built.out);
    assert.ok('ok' in r && r.ok.exitCode === 0, JSON.stringify(r));
    assert.equal(r.ran, true);
    assert.equal(r.ok.mrenclave, built.mrenclave);
  });

  it('changed file', async () => {
    refused(
      await run(await tampered([{ name: 'app/lib.sh', data: 'X=2\n' }])),
      'FSPF_FILE_CHANGED',
      '/app/lib.sh',
    );
  });
  it('changed permissions', async () => {
    refused(
      await run(await tampered([{ name: 'app/lib.sh', data: 'X=1\n', mode: 0o755 }])),
      'FSPF_FILE_CHANGED',
      '/app/lib.sh',
    );
  });
  it('added file in a protected region', async () => {
    refused(
      await run(await tampered([{ name: 'app/evil.sh', data: 'x' }])),
      'FSPF_FILE_ADDED',
      '/app/evil.sh',
    );
  });
  it('removed file', async () => {
    refused(await run(await tampered([{ name: 'app/.wh.lib.sh' }])), 'FSPF_FILE_MISSING', '/app/lib.sh');
  });
  it('renamed file', async () => {
    const r = await run(await tampered([{ name: 'app/.wh.lib.sh' }, { name: 'app/lib2.sh', data: 'X=1\n' }]));
    refused(r, 'FSPF_FILE_RENAMED', '/app/lib.sh');
    assert.ok('error' in r && (r.error as Error).message.includes('/app/lib2.sh'));
  });
  it('changed encrypted file', async () => {
    refused(
      await run(await tampered([{ name: 'data/model.bin', data: 'x'.repeat(60) }])),
      'FSPF_FILE_CHANGED',
      '/data/model.bin',
    );
  });
  it('added file in the reserved /.sealwork folder', async () => {
    refused(
      await run(await tampered([{ name: '.sealwork/extra', data: 'x' }])),
      'FSPF_FILE_ADDED',
      '/.sealwork/extra',
    );
  });
  it('wrong FSPF key', async () => {
    refused(await run(built.out, { fspfKey: '00'.repeat(32) }), 'FSPF_AUTH_FAILED', '/.sealwork/fspf');
  });
  it('wrong FSPF tag', async () => {
    const tag = (built.fspfTag[0] === '0' ? '1' : '0') + built.fspfTag.slice(1);
    refused(await run(built.out, { fspfTag: tag }), 'FSPF_AUTH_FAILED', '/.sealwork/fspf');
  });
  it('replaced FSPF (re-sealed with the public key gives another tag)', async () => {
    const other = await buildApp({
      image: await busyboxImage(join(t.dir, 'src-other'), [
        { name: 'app/', type: 'directory' },
        { name: 'app/run.sh', data: '#!/bin/sh\necho ran > /iexec_out/ran\n', mode: 0o755 },
      ]),
      out: join(t.dir, 'protected-other'),
      entrypoint: '/app/run.sh',
      fspfKey: built.fspfKey,
      home: t.dir,
      workDir: t.dir,
    });
    refused(await run(other.out), 'FSPF_AUTH_FAILED', '/.sealwork/fspf');
  });
  it('wrong file-system key', async () => {
    const wrong = JSON.stringify({
      format: 'sealwork-fs-keys',
      version: 1,
      regions: { '/data': 'ab'.repeat(32) },
    });
    refused(await run(built.out, { fsKey: wrong, fsKeyFile: undefined }), 'FS_KEY_WRONG', '/data/model.bin');
  });
  it('missing file-system key', async () => {
    const r = await run(built.out, { fsKeyFile: undefined });
    assert.ok('error' in r && isSealworkError(r.error, 'FS_KEY_REQUIRED'));
    assert.equal(r.ran, false);
  });
  it('expected MrEnclave differs', async () => {
    const r = await run(built.out, { mrenclave: 'ff'.repeat(32) });
    assert.ok('error' in r && isSealworkError(r.error, 'MRENCLAVE_MISMATCH'));
    assert.equal(r.ran, false);
  });
  it('edited enclave metadata (another entrypoint), with key and tag only', async () => {
    const meta = {
      format: 'sealwork-enclave',
      version: 1,
      simulated: true,
      framework: 'SCONE',
      sconeVersion: 'v5',
      ...built.config,
      entrypoint: ['/bin/sh', '-c', 'echo ran > /iexec_out/ran'],
      fspfKey: built.fspfKey,
      measured: built.measured,
    };
    const r = await run(await tampered([{ name: '.sealwork/enclave.json', data: JSON.stringify(meta) }]));
    refused(r, 'ENCLAVE_CONFIG_CHANGED', '/.sealwork/enclave.json');
  });
  it('edited enclave metadata (heap), with key and tag only', async () => {
    const meta = {
      format: 'sealwork-enclave',
      version: 1,
      simulated: true,
      framework: 'SCONE',
      sconeVersion: 'v5',
      ...built.config,
      heapSize: built.config.heapSize * 2,
      fspfKey: built.fspfKey,
      measured: built.measured,
    };
    const r = await run(await tampered([{ name: '.sealwork/enclave.json', data: JSON.stringify(meta) }]));
    refused(r, 'ENCLAVE_CONFIG_CHANGED', '/.sealwork/enclave.json');
  });
  it('swapped binary in a not-protected region, with key and tag only (MrEnclave sealed in the FSPF)', async () => {
    const loose = await buildApp({
      image: await busyboxImage(join(t.dir, 'src-loose'), [
        { name: 'app/', type: 'directory' },
        { name: 'app/run.sh', data: '#!/bin/sh\necho ran > /iexec_out/ran\n', mode: 0o755 },
      ]),
      out: join(t.dir, 'protected-loose'),
      entrypoint: '/app/run.sh',
      regions: ['/:not-protected', '/app:authenticated'],
      home: t.dir,
      workDir: t.dir,
    });
    assert.equal(loose.measured, '/bin/busybox');
    const dir = join(t.dir, `tampered-${n++}`);
    cpSync(loose.out, dir, { recursive: true });
    // Still a working busybox (trailing bytes are ignored by the loader), but other pages.
    const trojan = Buffer.concat([readFileSync(BUSYBOX), Buffer.alloc(5000, 1)]);
    await appendLayer(dir, [{ name: 'bin/busybox', data: trojan, mode: 0o755 }]);
    const r = await run(dir, { fspfKey: loose.fspfKey, fspfTag: loose.fspfTag, fsKeyFile: undefined });
    refused(r, 'MRENCLAVE_MISMATCH', '/bin/busybox');
    // The control: the untouched image runs with the same key and tag.
    const ok = await run(loose.out, { fspfKey: loose.fspfKey, fspfTag: loose.fspfTag, fsKeyFile: undefined });
    assert.ok('ok' in ok && ok.ok.exitCode === 0 && ok.ran);
  });
  it('accepts changes in a not-protected region (control)', async () => {
    const r = await run(await tampered([{ name: 'scratch/anything', data: 'x' }]));
    assert.ok('ok' in r && r.ok.exitCode === 0);
    assert.equal(r.ran, true);
  });
});
