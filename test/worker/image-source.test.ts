/**
 * Where the worker takes app images from (issue 18, finding 3): local paths and file:// only under
 * the operator's image folder, regular files or OCI layout folders only, size-bounded downloads,
 * and no zero checksum unless the operator allows it.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { promises as fs, readdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, relative } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Hex } from 'viem';
import { isSealworkError, type ErrorCode } from '../../src/errors.js';
import { appImageDeployment } from '../../src/sdk/chain/assets.js';
import { appImagePolicy } from '../../src/sdk/worker/worker.js';
import { fetchGuard } from '../../src/worker/egress.js';
import { appImageChecksum, resolveAppImage } from '../../src/worker/image.js';
import { runCli, tempDir } from '../helpers/cli.js';
import { layerTar, writeImage } from '../helpers/images.js';
import { waitUntil } from '../helpers/wait.js';

const ZERO: Hex = `0x${'0'.repeat(64)}`;
const sum = (b: Buffer): Hex => `0x${createHash('sha256').update(b).digest('hex')}`;
const MiB = 1024 * 1024;

describe('app image sources', () => {
  const t = tempDir('sealwork-image-source-');
  const root = join(t.dir, 'apps');
  const home = join(t.dir, 'home');
  let archive: string;
  let archiveBytes: Buffer;
  let layout: string;
  before(async () => {
    await fs.mkdir(root);
    await fs.mkdir(home);
    const layer = await layerTar([{ name: 'app/run.sh', data: '#!/bin/sh\necho hi\n', mode: 0o755 }]);
    archive = await writeImage(join(root, 'app.tar'), [layer], { format: 'oci-tar' });
    archiveBytes = await fs.readFile(archive);
    layout = await writeImage(join(root, 'layout'), [layer]);
    await fs.writeFile(join(t.dir, 'outside.tar'), archiveBytes);
  });
  after(() => t.cleanup());

  const policy = { root, allowZeroChecksum: true };
  const refused = (code: ErrorCode) => (e: unknown) => isSealworkError(e, code);

  it('reads local images under the image folder, by path or file:// URL, checked against their checksum', async () => {
    assert.equal(await resolveAppImage(home, archive, sum(archiveBytes), { root }), archive);
    assert.equal(await resolveAppImage(home, `file://${archive}`, sum(archiveBytes), { root }), archive);
    const layoutSum = await appImageChecksum(layout);
    assert.equal(await resolveAppImage(home, layout, layoutSum, { root }), layout);
    // A link inside the folder to an image inside it is fine; the resolved path is what is read.
    await fs.symlink('app.tar', join(root, 'alias.tar'));
    assert.equal(await resolveAppImage(home, join(root, 'alias.tar'), sum(archiveBytes), { root }), archive);
    await assert.rejects(
      resolveAppImage(home, archive, sum(Buffer.from('other')), { root }),
      refused('APP_IMAGE_CHECKSUM_MISMATCH'),
    );
  });

  it('refuses a zero on-chain checksum unless the operator allows it', async () => {
    // Refused before the location is even looked at.
    await assert.rejects(resolveAppImage(home, '/etc', ZERO, { root }), (e) => {
      assert.ok(isSealworkError(e, 'APP_IMAGE_CHECKSUM_ZERO'));
      assert.match(e.message, /--allow-zero-checksum/);
      return true;
    });
    await assert.rejects(resolveAppImage(home, archive, ZERO, { root }), refused('APP_IMAGE_CHECKSUM_ZERO'));
    assert.equal(await resolveAppImage(home, archive, ZERO, { root, allowZeroChecksum: true }), archive);
  });

  it('refuses any path outside the image folder: absolute, file://, .., symlinks, siblings, no folder', async () => {
    const outside = join(t.dir, 'outside.tar');
    await fs.symlink('/etc', join(root, 'etc-link'));
    await fs.symlink('../outside.tar', join(root, 'escape.tar'));
    await fs.mkdir(`${root}-sibling`);
    await fs.writeFile(join(`${root}-sibling`, 'x.tar'), archiveBytes);
    for (const where of [
      '/etc',
      '/etc/passwd',
      'file:///etc',
      'file:///etc/passwd',
      outside,
      `file://${outside}`,
      `${root}/../outside.tar`,
      join(root, 'etc-link'),
      join(root, 'etc-link', 'passwd'),
      join(root, 'escape.tar'),
      `file://${join(root, 'escape.tar')}`,
      join(`${root}-sibling`, 'x.tar'),
      join(root, 'does-not-exist', '..', '..', 'outside.tar'),
    ])
      await assert.rejects(resolveAppImage(home, where, sum(archiveBytes), policy), (e) => {
        assert.ok(isSealworkError(e, 'APP_IMAGE_PATH_REFUSED'), `${where}: ${String(e)}`);
        return true;
      });
    // Without a configured folder, no local image at all.
    for (const o of [{ allowZeroChecksum: true }, { root: false as const, allowZeroChecksum: true }])
      await assert.rejects(resolveAppImage(home, archive, ZERO, o), refused('APP_IMAGE_PATH_REFUSED'));
    // Only under the folder does a missing file say "not found" (no existence oracle outside it).
    await assert.rejects(
      resolveAppImage(home, join(root, 'missing.tar'), ZERO, policy),
      refused('APP_IMAGE_NOT_FOUND'),
    );
    await assert.rejects(
      resolveAppImage(home, '/nonexistent/x.tar', ZERO, policy),
      refused('APP_IMAGE_PATH_REFUSED'),
    );
  });

  it('refuses /dev/zero, FIFOs and folders that are not OCI layouts, without reading them', async () => {
    for (const where of ['/dev/zero', 'file:///dev/zero'])
      await assert.rejects(resolveAppImage(home, where, ZERO, policy), refused('APP_IMAGE_PATH_REFUSED'));
    // Even an operator who names /dev as the folder gets no device read.
    for (const where of ['/dev/zero', 'file:///dev/zero', '/dev/urandom'])
      await assert.rejects(
        resolveAppImage(home, where, ZERO, { root: '/dev', allowZeroChecksum: true }),
        refused('APP_IMAGE_NOT_REGULAR'),
      );
    execFileSync('mkfifo', [join(root, 'fifo.tar')]);
    await assert.rejects(
      resolveAppImage(home, join(root, 'fifo.tar'), sum(archiveBytes), policy),
      refused('APP_IMAGE_NOT_REGULAR'),
    );
    // A folder must be an OCI layout of regular files: not a plain folder, no links, no FIFOs.
    await fs.mkdir(join(root, 'plain'));
    await assert.rejects(
      resolveAppImage(home, join(root, 'plain'), ZERO, policy),
      refused('APP_IMAGE_NOT_REGULAR'),
    );
    const linked = join(root, 'linked');
    await fs.cp(layout, linked, { recursive: true });
    await fs.symlink('/etc/passwd', join(linked, 'blobs', 'sha256', 'f'.repeat(64)));
    await assert.rejects(resolveAppImage(home, linked, ZERO, policy), refused('APP_IMAGE_NOT_REGULAR'));
  });

  it('refuses local images over the size bound before reading them', async () => {
    await assert.rejects(
      resolveAppImage(home, archive, sum(archiveBytes), { root, maxBytes: 1024 }),
      refused('APP_IMAGE_TOO_LARGE'),
    );
    await assert.rejects(
      resolveAppImage(home, layout, await appImageChecksum(layout), { root, maxBytes: 1024 }),
      refused('APP_IMAGE_TOO_LARGE'),
    );
  });

  describe('downloads', () => {
    let server: Server;
    let base = '';
    let endlessStopped = false;
    before(async () => {
      server = createServer((req, res) => {
        if (req.url === '/big.tar') {
          res.end(Buffer.alloc(3 * MiB)); // declares its length
        } else if (req.url === '/endless.tar') {
          // Chunked, no length: never ends by itself.
          res.writeHead(200);
          const chunk = Buffer.alloc(64 * 1024);
          const pump = () => {
            while (!res.destroyed && res.write(chunk));
            if (!res.destroyed) res.once('drain', pump);
          };
          res.on('close', () => (endlessStopped = true));
          pump();
        } else if (req.url === '/ok.tar') res.end(archiveBytes);
        else res.writeHead(404).end();
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    after(() => {
      server.closeAllConnections();
      server.close();
    });
    const cache = () => readdirSync(join(home, 'worker', 'images'));

    it('streams a download and refuses it as soon as it passes the bound; nothing stays in the cache', async () => {
      // The local server is not a public address: allowed explicitly, as an operator would.
      const o = { maxBytes: MiB, fetch: { guard: fetchGuard([new URL(base).host]) } };
      await assert.rejects(resolveAppImage(home, `${base}/big.tar`, sum(archiveBytes), o), (e) => {
        assert.ok(isSealworkError(e, 'APP_IMAGE_TOO_LARGE'));
        assert.match(e.message, /--max-image-size/);
        return true;
      });
      const before = process.memoryUsage().rss;
      await assert.rejects(
        resolveAppImage(home, `${base}/endless.tar`, sum(archiveBytes), o),
        refused('APP_IMAGE_TOO_LARGE'),
      );
      assert.ok(process.memoryUsage().rss - before < 256 * MiB, 'not buffered');
      // The server sees the connection closed (its marker), else this wait fails.
      await waitUntil(() => endlessStopped, 'the endless download connection to be closed');
      assert.deepEqual(cache(), []);
      // Within the bound, the download is kept and checked.
      const p = await resolveAppImage(home, `${base}/ok.tar`, sum(archiveBytes), o);
      assert.deepEqual(await fs.readFile(p), archiveBytes);
      assert.equal(relative(join(home, 'worker', 'images'), p).includes('/'), false);
    });
  });

  it('app deploy computes the checksum of a local image, as the worker checks it', async () => {
    const a = await appImageDeployment(archive);
    assert.deepEqual(a, { multiaddr: archive, checksum: sum(archiveBytes), checksumComputed: true });
    const l = await appImageDeployment(`file://${layout}`);
    assert.equal(l.checksum, await appImageChecksum(layout));
    assert.equal(await resolveAppImage(home, l.multiaddr, l.checksum, { root }), layout);
    // A relative path is deployed as an absolute one (the worker reads only absolute paths).
    const rel = relative(process.cwd(), archive);
    assert.deepEqual(await appImageDeployment(rel), a);
    // Given checksums are kept; a location that is not a local file keeps zero.
    assert.equal(
      (await appImageDeployment(archive, `0x${'ab'.repeat(32)}`)).checksum,
      `0x${'ab'.repeat(32)}`,
    );
    assert.deepEqual(await appImageDeployment('docker.io/me/hello:1'), {
      multiaddr: 'docker.io/me/hello:1',
      checksum: ZERO,
      checksumComputed: false,
    });
    assert.equal((await appImageDeployment('https://example.invalid/app.tar')).checksumComputed, false);
  });

  it('the worker policy comes from options, else SEALWORK_APP_IMAGE_ROOT / _MAX_APP_IMAGE_SIZE / _ALLOW_ZERO_CHECKSUM', async () => {
    assert.deepEqual(await appImagePolicy({}, {}), { root: false, allowZeroChecksum: false });
    assert.deepEqual(
      await appImagePolicy(
        {},
        {
          SEALWORK_APP_IMAGE_ROOT: root,
          SEALWORK_MAX_APP_IMAGE_SIZE: '1M',
          SEALWORK_ALLOW_ZERO_CHECKSUM: '1',
        },
      ),
      { root, maxBytes: MiB, allowZeroChecksum: true },
    );
    assert.deepEqual(
      await appImagePolicy(
        { appImageRoot: root, allowZeroChecksum: false },
        { SEALWORK_ALLOW_ZERO_CHECKSUM: '1' },
      ),
      { root, allowZeroChecksum: false },
    );
    await assert.rejects(
      appImagePolicy({ appImageRoot: join(t.dir, 'nope') }, {}),
      refused('APP_IMAGE_ROOT_INVALID'),
    );
    // `worker start` refuses a missing folder before it connects to anything.
    const r = await runCli(
      [
        '--home',
        home,
        '--json',
        'worker',
        'start',
        '--workerpool',
        `0x${'1'.repeat(40)}`,
        '--app-image-root',
        join(t.dir, 'nope'),
      ],
      { timeoutMs: 60_000 },
    );
    assert.notEqual(r.code, 0);
    assert.match(r.stderr + r.stdout, /APP_IMAGE_ROOT_INVALID/);
  });
});
