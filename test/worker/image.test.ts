/** The worker's app-image download cache: keyed by URL and checksum, a bad download not kept. */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Hex } from 'viem';
import { isSealworkError } from '../../src/errors.js';
import { fetchGuard } from '../../src/worker/egress.js';
import { resolveAppImage } from '../../src/worker/tee.js';
import { tempDir } from '../helpers/cli.js';

const sum = (b: Buffer): Hex => `0x${createHash('sha256').update(b).digest('hex')}`;

describe('app image download (http)', () => {
  const t = tempDir();
  let body = Buffer.from('image v1');
  let hits = 0;
  const server = createServer((_req, res) => {
    hits++;
    res.end(body);
  });
  let url = '';
  // The local server is not a public address: allowed explicitly, as an operator would.
  let o: { fetch: { guard: ReturnType<typeof fetchGuard> } };
  before(async () => {
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    url = `http://127.0.0.1:${port}/app.tar`;
    o = { fetch: { guard: fetchGuard([`127.0.0.1:${port}`]) } };
  });
  after(() => {
    server.close();
    t.cleanup();
  });

  it('checks the checksum, caches by URL and checksum, and drops a mismatching download', async () => {
    const v2 = Buffer.from('image v2');
    // The URL still serves v1 while the app says v2: refused, and nothing stays in the cache.
    await assert.rejects(resolveAppImage(t.dir, url, sum(v2), o), (e) =>
      isSealworkError(e, 'APP_IMAGE_CHECKSUM_MISMATCH'),
    );
    assert.deepEqual(readdirSync(join(t.dir, 'worker', 'images')), []);
    // The server is fixed: the next attempt downloads again and succeeds; a third one uses the cache.
    body = v2;
    const p = await resolveAppImage(t.dir, url, sum(v2), o);
    assert.equal(await resolveAppImage(t.dir, url, sum(v2), o), p);
    assert.equal(hits, 2);
    // v1 named by its own checksum at the same URL is a different cache entry, fetched anew.
    body = Buffer.from('image v1');
    assert.notEqual(await resolveAppImage(t.dir, url, sum(body), o), p);
    assert.equal(hits, 3);
  });
});
