import assert from 'node:assert/strict';
import { existsSync, promises as fs, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildApp, measureApp, openImage, runEnclave, unpackImage } from '../../src/enclave/index.js';
import { isSealworkError, type ErrorCode } from '../../src/errors.js';
import { tempDir } from '../helpers/cli.js';
import {
  busyboxEntries,
  busyboxImage,
  filesContaining,
  layerTar,
  writeImage,
  type LayerEntry,
} from '../helpers/images.js';
import { NEEDS_BUSYBOX, NEEDS_BWRAP, requires } from '../helpers/prereq.js';

const skip = requires('protected images', [NEEDS_BUSYBOX]);
const SCRIPT = (msg: string): LayerEntry[] => [
  { name: 'app/', type: 'directory' },
  { name: 'app/run.sh', data: `#!/bin/sh\necho ${msg}\n`, mode: 0o755 },
];

describe('protected images', { skip }, () => {
  let t: ReturnType<typeof tempDir>;
  let base: string;
  const key = '11'.repeat(32);
  before(async () => {
    t = tempDir('sealwork-enclave-img-');
    base = await busyboxImage(join(t.dir, 'base'), SCRIPT('hello'));
  });
  after(() => t.cleanup());
  const out = (n: string) => join(t.dir, n);
  const build = (image: string, o: string, extra: Partial<Parameters<typeof buildApp>[0]> = {}) =>
    buildApp({ image, out: out(o), entrypoint: '/app/run.sh', home: t.dir, workDir: t.dir, ...extra });

  it('builds from OCI folders and archives, and measure agrees with build', async () => {
    const formats = [
      base,
      await busyboxImage(out('gz'), SCRIPT('hello'), { gzip: true }),
      await busyboxImage(out('oci.tar'), SCRIPT('hello'), { format: 'oci-tar' }),
      await busyboxImage(out('docker.tar'), SCRIPT('hello'), { format: 'docker-tar' }),
    ];
    const results = [];
    for (const [i, img] of formats.entries())
      results.push(await build(img, i === 1 ? 'p-fmt1.tar' : `p-fmt${i}`, { fspfKey: key }));
    // Same binary, configuration, files and key: same identity whatever the container format.
    assert.equal(new Set(results.map((r) => r.fingerprint)).size, 1);
    const r = results[0]!;
    assert.match(r.fingerprint, /^[0-9a-f]{64}\|[0-9a-f]{64}\|[0-9a-f]{32}$/);
    assert.equal(r.measured, '/bin/busybox'); // a script: its interpreter is measured
    assert.equal(r.simulated, true);
    assert.deepEqual(r.mrenclaveJson, {
      framework: 'SCONE',
      version: 'v5',
      entrypoint: '/app/run.sh',
      heapSize: 1024 ** 3,
      fingerprint: r.fingerprint,
    });
    for (const p of [out('p-fmt0'), out('p-fmt1.tar')]) {
      const m = await measureApp(p);
      assert.equal(m.fingerprint, r.fingerprint);
      assert.ok(m.files > 20);
    }
    assert.deepEqual(
      (await fs.readdir(t.dir)).filter((n) => n.startsWith('sealwork-')),
      [],
      'no scratch folder left behind',
    );
  });

  it('heap change ⇒ new MrEnclave; script change ⇒ same MrEnclave, new tag', async () => {
    const a = await build(base, 'p-a', { fspfKey: key });
    const again = await build(base, 'p-a2', { fspfKey: key });
    const heap = await build(base, 'p-heap', { fspfKey: key, heap: '2G' });
    const debug = await build(base, 'p-debug', { fspfKey: key, debug: true });
    const changed = await build(await busyboxImage(out('base2'), SCRIPT('HELLO')), 'p-script', {
      fspfKey: key,
    });
    assert.equal(again.fingerprint, a.fingerprint, 'reproducible for a given key');
    assert.notEqual(heap.mrenclave, a.mrenclave);
    assert.notEqual(debug.mrenclave, a.mrenclave);
    // The configuration is sealed in the FSPF too (so key and tag alone refuse an edited one).
    assert.notEqual(heap.fspfTag, a.fspfTag);
    assert.equal(changed.mrenclave, a.mrenclave);
    assert.notEqual(changed.fspfTag, a.fspfTag);
    const random = await build(base, 'p-rand');
    assert.equal(random.mrenclave, a.mrenclave);
    assert.notEqual(random.fspfKey, key);
  });

  it('keeps region keys out of the image and the plaintext of encrypted files out of it', async () => {
    const secret = `SECRET-${Date.now()}-do-not-leak`;
    const img = await busyboxImage(out('enc-src'), [
      ...SCRIPT('x'),
      { name: 'data/', type: 'directory' },
      { name: 'data/secret.txt', data: secret },
    ]);
    const r = await build(img, 'p-enc', { regions: ['/:authenticated', '/data:encrypted'] });
    assert.ok(r.fsKeyFile);
    assert.equal(statSync(r.fsKeyFile).mode & 0o777, 0o600);
    assert.equal(r.encryptedFiles, 1);
    const keys = JSON.parse(await fs.readFile(r.fsKeyFile, 'utf8'));
    const regionKey = keys.regions['/data'] as string;
    assert.match(regionKey, /^[0-9a-f]{64}$/);
    assert.ok(!r.fingerprint.includes(regionKey) && regionKey !== r.fspfKey);
    assert.deepEqual(await filesContaining(r.out, Buffer.from(secret)), []);
    assert.deepEqual(await filesContaining(r.out, Buffer.from(regionKey)), []);
    assert.deepEqual(await filesContaining(r.out, Buffer.from(regionKey, 'hex')), []);
    assert.ok(!r.fsKeyFile.startsWith(r.out));
    // The source image does hold it (so the scan above can find it).
    assert.ok((await filesContaining(img, Buffer.from(secret))).length > 0);
    assert.equal((await measureApp(r.out)).fingerprint, r.fingerprint);
  });

  it(
    'a script in an encrypted region: its interpreter is measured without the key; a binary there is refused',
    { skip: requires('protected images: run', [NEEDS_BWRAP]) },
    async () => {
      const img = await busyboxImage(out('enc-script-src'), [
        { name: 'app/', type: 'directory' },
        { name: 'app/run.sh', data: '#!/bin/sh\necho secret-logic > /iexec_out/ran\n', mode: 0o755 },
      ]);
      const r = await build(img, 'p-enc-script', { regions: ['/:authenticated', '/app:encrypted'] });
      assert.equal(r.measured, '/bin/busybox');
      assert.deepEqual(await filesContaining(r.out, Buffer.from('secret-logic')), []);
      // What the worker does before attestation: measure with no file-system key.
      const m = await measureApp(r.out);
      assert.equal(m.fingerprint, r.fingerprint);
      assert.equal(m.measured, '/bin/busybox');
      // With the key file, measure also decrypts and checks every encrypted file.
      assert.equal((await measureApp(r.out, { fsKeyFile: r.fsKeyFile })).fingerprint, r.fingerprint);
      const wrongKeys = out('wrong.fskey.json');
      await fs.writeFile(
        wrongKeys,
        JSON.stringify({ format: 'sealwork-fs-keys', version: 1, regions: { '/app': 'cd'.repeat(32) } }),
      );
      await assert.rejects(
        measureApp(r.out, { fsKeyFile: wrongKeys }),
        (e) => isSealworkError(e, 'FS_KEY_WRONG') && e.details?.file === '/app/run.sh',
      );
      // After attestation, with the key: the chain is resolved from the decrypted script and runs.
      const outDir = out('enc-script-out');
      const run = await runEnclave({
        image: r.out,
        fspfKey: r.fspfKey,
        fspfTag: r.fspfTag,
        mrenclave: r.mrenclave,
        fsKeyFile: r.fsKeyFile,
        outDir,
        workDir: t.dir,
      });
      assert.equal(run.exitCode, 0, run.stderr);
      assert.equal(await fs.readFile(join(outDir, 'ran'), 'utf8'), 'secret-logic\n');
      await assert.rejects(
        build(img, 'p-enc-bin', {
          entrypoint: '/bin/busybox true',
          regions: ['/:authenticated', '/bin:encrypted'],
        }),
        (e) => isSealworkError(e, 'MEASURED_EXECUTABLE_ENCRYPTED') && e.details?.file === '/bin/busybox',
      );
      assert.equal(existsSync(out('p-enc-bin')), false);
    },
  );

  it('honours whiteouts and opaque folders', async () => {
    const img = await writeImage(out('wh'), [
      await layerTar([
        { name: 'app/', type: 'directory' },
        { name: 'app/old.txt', data: 'old' },
        { name: 'app/keep.txt', data: 'keep' },
        { name: 'opt/dir/', type: 'directory' },
        { name: 'opt/dir/a', data: 'a' },
      ]),
      await layerTar([
        { name: 'app/.wh.old.txt' },
        { name: 'opt/dir/.wh..wh..opq' },
        { name: 'opt/dir/b', data: 'b' },
      ]),
    ]);
    const root = out('wh-root');
    await fs.mkdir(root);
    const o = await openImage(img, { workDir: t.dir });
    await unpackImage(o, root);
    assert.deepEqual((await fs.readdir(join(root, 'app'))).sort(), ['keep.txt']);
    assert.deepEqual(await fs.readdir(join(root, 'opt', 'dir')), ['b']);
  });

  it('accepts deduplicated docker-save layers (links), hard links and absolute links', async () => {
    const layer = await layerTar([
      ...busyboxEntries(),
      { name: 'app/', type: 'directory' },
      { name: 'app/run.sh', data: '#!/bin/sh\necho hi\n', mode: 0o755 },
      { name: 'app/hard.sh', type: 'link', linkname: 'app/run.sh' },
      { name: 'app/abs', type: 'symlink', linkname: '/bin/busybox' },
    ]);
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: {} }));
    const archive = out('dedup.tar');
    await fs.writeFile(
      archive,
      await layerTar([
        { name: 'cfg.json', data: config },
        { name: 'a/', type: 'directory' },
        { name: 'a/layer.tar', data: layer },
        { name: 'b/', type: 'directory' },
        { name: 'b/layer.tar', type: 'symlink', linkname: '../a/layer.tar' },
        {
          name: 'manifest.json',
          data: JSON.stringify([{ Config: 'cfg.json', Layers: ['a/layer.tar', 'b/layer.tar'] }]),
        },
      ]),
    );
    const r = await build(archive, 'p-dedup', { entrypoint: '/app/hard.sh' });
    assert.equal(r.measured, '/bin/busybox');
    const root = out('dedup-root');
    await fs.mkdir(root);
    const o = await openImage(r.out, { workDir: t.dir });
    await unpackImage(o, root);
    assert.equal(await fs.readFile(join(root, 'app', 'hard.sh'), 'utf8'), '#!/bin/sh\necho hi\n');
    assert.equal(await fs.readlink(join(root, 'app', 'abs')), '/bin/busybox');
    const evil = out('evil-archive.tar');
    await fs.writeFile(
      evil,
      await layerTar([{ name: 'x/layer.tar', type: 'symlink', linkname: '../../../etc/passwd' }]),
    );
    await assert.rejects(build(evil, 'p-evil-archive'), (e) => isSealworkError(e, 'IMAGE_PATH_TRAVERSAL'));
  });

  it('rejects malicious layers at unpack and writes nothing outside the root', async () => {
    const victim = out('victim');
    await fs.mkdir(victim);
    const cases: [string, LayerEntry[], ErrorCode][] = [
      ['traversal', [{ name: '../../../escape.txt', data: 'x' }], 'LAYER_PATH_TRAVERSAL'],
      [
        'link-out',
        [{ name: 'evil', type: 'symlink', linkname: '../../../../../etc' }],
        'LAYER_SYMLINK_ESCAPE',
      ],
      [
        'through-link',
        [
          { name: 'evil', type: 'symlink', linkname: victim },
          { name: 'evil/pwned', data: 'x' },
        ],
        'LAYER_PATH_THROUGH_SYMLINK',
      ],
      ['hardlink-out', [{ name: 'h', type: 'link', linkname: '../../etc/passwd' }], 'LAYER_PATH_TRAVERSAL'],
      [
        'device',
        [
          { name: 'dev/', type: 'directory' },
          { name: 'dev/mem2', type: 'character-device' },
        ],
        'LAYER_SPECIAL_FILE',
      ],
      ['fifo', [{ name: 'fifo', type: 'fifo' }], 'LAYER_SPECIAL_FILE'],
    ];
    for (const [name, entries, code] of cases) {
      const img = await busyboxImage(out(`mal-${name}`), entries);
      await assert.rejects(
        build(img, `p-mal-${name}`),
        (e) => isSealworkError(e, code) && typeof e.details?.path === 'string',
        name,
      );
      assert.equal(existsSync(out(`p-mal-${name}`)), false);
    }
    assert.deepEqual(await fs.readdir(victim), []);
    assert.equal(existsSync(join(t.dir, 'escape.txt')), false);
    assert.deepEqual(
      (await fs.readdir(t.dir)).filter((n) => n.startsWith('sealwork-')),
      [],
      'scratch folders removed after a failure',
    );
  });

  it('refuses a corrupted blob, a missing entrypoint, an existing output and a protected input', async () => {
    const img = await busyboxImage(out('corrupt'), SCRIPT('x'));
    const idx = JSON.parse(await fs.readFile(join(img, 'index.json'), 'utf8'));
    const man = JSON.parse(
      await fs.readFile(join(img, 'blobs', 'sha256', idx.manifests[0].digest.slice(7)), 'utf8'),
    );
    const layer = join(img, 'blobs', 'sha256', man.layers[1].digest.slice(7));
    const bytes = await fs.readFile(layer);
    bytes[600] = bytes[600]! ^ 0xff;
    await fs.writeFile(layer, bytes);
    await assert.rejects(build(img, 'p-corrupt'), (e) => isSealworkError(e, 'IMAGE_DIGEST_MISMATCH'));
    await assert.rejects(build(base, 'p-noent', { entrypoint: '/app/missing.sh' }), (e) =>
      isSealworkError(e, 'ENTRYPOINT_NOT_FOUND'),
    );
    await assert.rejects(build(base, 'p-a'), (e) => isSealworkError(e, 'OUTPUT_EXISTS'));
    await assert.rejects(build(out('p-a'), 'p-twice'), (e) => isSealworkError(e, 'IMAGE_ALREADY_PROTECTED'));
    await assert.rejects(build(t.dir, 'p-notimage'), (e) => isSealworkError(e, 'IMAGE_INVALID'));
    await assert.rejects(measureApp(base), (e) => isSealworkError(e, 'IMAGE_NOT_PROTECTED'));
  });
});
