/**
 * Unpack limits (issue 18, finding 4): decompression bombs, hard-link and file-count bombs are
 * refused as soon as a bound is crossed, with a stable code, and leave nothing behind.
 */
import assert from 'node:assert/strict';
import { existsSync, promises as fs } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import {
  buildApp,
  DEFAULT_UNPACK_LIMITS,
  openImage,
  unpackImage,
  unpackLayerBuffer,
  unpackLimits,
} from '../../src/enclave/index.js';
import { isSealworkError } from '../../src/errors.js';
import { tempDir } from '../helpers/cli.js';
import { layerTar, writeImage, type LayerEntry } from '../helpers/images.js';

const MiB = 1024 * 1024;

describe('unpack limits', () => {
  let t: ReturnType<typeof tempDir>;
  /** A layer whose one file is `size` zero bytes: a few KB once gzipped. */
  let zeros: Buffer;
  before(async () => {
    t = tempDir('sealwork-unpack-limits-');
    zeros = await layerTar([{ name: 'bomb', data: Buffer.alloc(64 * MiB) }]);
  });
  after(() => t.cleanup());
  const out = (n: string) => join(t.dir, n);
  const leftovers = async (dir: string) =>
    (await fs.readdir(dir)).filter((n) => n.startsWith('sealwork-') || n.endsWith('.partial'));

  /** Open and unpack `image` into a fresh root with `limits`; the root must be empty after a refusal. */
  async function unpack(image: string, name: string, limits: Parameters<typeof unpackLimits>[0]) {
    const root = out(`${name}-root`);
    const work = out(`${name}-work`);
    await fs.mkdir(root);
    await fs.mkdir(work);
    const img = await openImage(image, { workDir: work, limits });
    try {
      await unpackImage(img, root);
    } finally {
      await img.cleanup();
    }
    return { root, work };
  }

  it('reads its defaults, the SEALWORK_UNPACK_* environment and overrides, in that order', () => {
    assert.deepEqual(unpackLimits({}, {}), {
      maxBytes: 4 * 1024 ** 3,
      maxRatio: 100,
      ratioGraceBytes: 64 * MiB,
      maxEntries: 200_000,
    });
    assert.deepEqual(unpackLimits({}, {}), { ...DEFAULT_UNPACK_LIMITS });
    const env = {
      SEALWORK_UNPACK_MAX_BYTES: '8G',
      SEALWORK_UNPACK_MAX_RATIO: '20',
      SEALWORK_UNPACK_RATIO_GRACE: '1M',
      SEALWORK_UNPACK_MAX_FILES: '5000',
    };
    assert.deepEqual(unpackLimits({}, env), {
      maxBytes: 8 * 1024 ** 3,
      maxRatio: 20,
      ratioGraceBytes: MiB,
      maxEntries: 5000,
    });
    assert.equal(unpackLimits({ maxEntries: 7 }, env).maxEntries, 7);
    for (const bad of [
      { SEALWORK_UNPACK_MAX_BYTES: 'lots' },
      { SEALWORK_UNPACK_MAX_RATIO: '-1' },
      { SEALWORK_UNPACK_MAX_FILES: '1.5' },
    ])
      assert.throws(
        () => unpackLimits({}, bad),
        (e) => isSealworkError(e, 'UNPACK_LIMIT_INVALID') && e.message.includes(Object.keys(bad)[0]!),
      );
  });

  it('refuses a gzip layer that expands past the total size limit, leaving an empty root', async () => {
    const gz = gzipSync(zeros);
    assert.ok(gz.length < 200 * 1024, `the bomb layer is small (${gz.length} bytes)`);
    const image = await writeImage(out('gz-bomb'), [zeros], { gzip: true });
    const root = out('too-large-root');
    await assert.rejects(
      unpack(image, 'too-large', { maxBytes: 8 * MiB }),
      (e) =>
        isSealworkError(e, 'IMAGE_TOO_LARGE') &&
        /8 MiB/.test(e.message) &&
        /SEALWORK_UNPACK_MAX_BYTES/.test(e.message),
    );
    assert.deepEqual(await fs.readdir(root), [], 'partial output removed');
  });

  it('refuses a layer whose expansion ratio passes the bound (a decompression bomb)', async () => {
    const image = await writeImage(out('gz-ratio'), [zeros], { gzip: true });
    await assert.rejects(
      unpack(image, 'ratio', { maxRatio: 100, ratioGraceBytes: MiB }),
      (e) =>
        isSealworkError(e, 'IMAGE_EXPANSION_REFUSED') &&
        /100×/.test(e.message) &&
        /SEALWORK_UNPACK_MAX_RATIO/.test(e.message),
    );
    assert.deepEqual(await fs.readdir(out('ratio-root')), []);
    // The same image passes with the defaults: 64 MiB is within the grace size.
    const ok = await unpack(image, 'ratio-ok', {});
    assert.equal((await fs.stat(join(ok.root, 'bomb'))).size, 64 * MiB);
  });

  it('refuses a file-count bomb (many empty files, a tiny gzip layer)', async () => {
    const entries: LayerEntry[] = [{ name: 'd/', type: 'directory' }];
    for (let i = 0; i < 3000; i++) entries.push({ name: `d/f${i}`, data: '' });
    const image = await writeImage(out('count-bomb'), [await layerTar(entries)], { gzip: true });
    await assert.rejects(
      unpack(image, 'count', { maxEntries: 1000 }),
      (e) =>
        isSealworkError(e, 'IMAGE_TOO_MANY_FILES') &&
        /1000 files/.test(e.message) &&
        /SEALWORK_UNPACK_MAX_FILES/.test(e.message),
    );
    assert.deepEqual(await fs.readdir(out('count-root')), []);
    // Folders created on the way count too: one entry with a deep path cannot dodge the bound.
    const deep = await layerTar([
      { name: `${Array.from({ length: 50 }, (_, i) => `d${i}`).join('/')}/f`, data: 'x' },
    ]);
    const root = out('deep-root');
    await fs.mkdir(root);
    await assert.rejects(unpackLayerBuffer(deep, root, 'deep', { maxEntries: 20 }), (e) =>
      isSealworkError(e, 'IMAGE_TOO_MANY_FILES'),
    );
  });

  it('counts hard-link copies, in a layer and in an image archive', async () => {
    const file = { name: 'big', data: Buffer.alloc(MiB, 1) };
    const links: LayerEntry[] = Array.from({ length: 40 }, (_, i) => ({
      name: `l${i}`,
      type: 'link' as const,
      linkname: 'big',
    }));
    // In a layer: 1 MiB written 41 times.
    const image = await writeImage(out('link-layer'), [await layerTar([file, ...links])]);
    await assert.rejects(unpack(image, 'link-layer', { maxBytes: 16 * MiB }), (e) =>
      isSealworkError(e, 'IMAGE_TOO_LARGE'),
    );
    assert.deepEqual(await fs.readdir(out('link-layer-root')), []);
    // In an image archive (`docker save` dedups layers with links): the archive is extracted under
    // the same bounds, against its own size; the scratch folder is removed.
    const archive = out('link-archive.tar');
    await fs.writeFile(archive, await layerTar([file, ...links]));
    const w = out('archive-work');
    await fs.mkdir(w);
    await assert.rejects(
      openImage(archive, { workDir: w, limits: { maxRatio: 10, ratioGraceBytes: 4 * MiB } }),
      (e) => isSealworkError(e, 'IMAGE_EXPANSION_REFUSED') && /image archive/.test(e.message),
    );
    assert.deepEqual(await leftovers(w), [], 'no extraction folder left');
  });

  it('app build honours SEALWORK_UNPACK_MAX_BYTES (no option threading needed) and leaves nothing', async () => {
    const image = await writeImage(out('build-bomb.tar'), [zeros], { format: 'oci-tar', gzip: true });
    const work = out('build-work');
    await fs.mkdir(work);
    const saved = process.env.SEALWORK_UNPACK_MAX_BYTES;
    process.env.SEALWORK_UNPACK_MAX_BYTES = '4M';
    try {
      await assert.rejects(
        buildApp({ image, out: out('p-bomb'), entrypoint: '/bomb', home: t.dir, workDir: work }),
        (e) => isSealworkError(e, 'IMAGE_TOO_LARGE') && /4 MiB/.test(e.message),
      );
    } finally {
      if (saved === undefined) delete process.env.SEALWORK_UNPACK_MAX_BYTES;
      else process.env.SEALWORK_UNPACK_MAX_BYTES = saved;
    }
    assert.equal(existsSync(out('p-bomb')), false);
    assert.deepEqual(await leftovers(work), []);
  });
});
