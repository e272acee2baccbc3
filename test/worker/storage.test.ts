import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { isSealworkError } from '../../src/errors.js';
import { fetchBytes, httpCall, resolveLocation } from '../../src/worker/fetch.js';
import { localStorageCa, putFile, putObject } from '../../src/worker/storage/client.js';
import { createStorageApp, startStorage, type StorageServer } from '../../src/worker/storage/server.js';
import { runCli, tempDir } from '../helpers/cli.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('storage app (in-process)', () => {
  const t = tempDir();
  const app = createStorageApp({ dir: t.dir, maxObjectBytes: 1000 });
  after(t.cleanup);

  it('stores by sha256 and serves it back', async () => {
    const data = randomBytes(500);
    const r = await app.request('http://x/objects', { method: 'PUT', body: data });
    assert.equal(r.status, 201);
    const j = (await r.json()) as { sha256: string; url: string; size: number };
    assert.equal(j.sha256, `0x${sha(data)}`);
    assert.equal(j.size, 500);
    assert.equal(j.url, `http://x/objects/${sha(data)}`);
    const g = await app.request(`http://x/objects/${sha(data)}`);
    assert.equal(g.status, 200);
    assert.deepEqual(Buffer.from(await g.arrayBuffer()), data);
    const again = await app.request('http://x/objects', { method: 'PUT', body: data });
    assert.equal(again.status, 200, 'same content again is idempotent');
    const h = await app.request(`http://x/objects/0x${sha(data).toUpperCase()}`, { method: 'HEAD' });
    assert.equal(h.status, 200);
    assert.equal(h.headers.get('content-length'), '500');
  });

  it('refuses objects over the size limit, a wrong hash, empty bodies and bad ids', async () => {
    const big = await app.request('http://x/objects', { method: 'PUT', body: randomBytes(1001) });
    assert.equal(big.status, 413);
    assert.equal(((await big.json()) as { error: { code: string } }).error.code, 'OBJECT_TOO_LARGE');
    const data = randomBytes(10);
    const wrong = await app.request(`http://x/objects/${sha(randomBytes(10))}`, {
      method: 'PUT',
      body: data,
    });
    assert.equal(wrong.status, 422);
    const right = await app.request(`http://x/objects/${sha(data)}`, { method: 'PUT', body: data });
    assert.equal(right.status, 201);
    const empty = await app.request('http://x/objects', { method: 'PUT', body: new Uint8Array(0) });
    assert.equal(empty.status, 400);
    assert.equal((await app.request('http://x/objects/nothex')).status, 400);
    assert.equal((await app.request(`http://x/objects/${'0'.repeat(64)}`)).status, 404);
  });
});

describe('storage server over TLS', () => {
  const t = tempDir();
  let s: StorageServer;
  before(async () => {
    s = await startStorage({ home: t.dir, maxObjectBytes: 1 << 20 });
  });
  after(async () => {
    await s.close();
    t.cleanup();
  });

  it('serves HTTPS with its self-signed certificate, which clients pin', async () => {
    assert.match(s.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    const file = join(t.dir, 'blob.bin');
    const data = randomBytes(4096);
    writeFileSync(file, data);
    const put = await putFile({ file, home: t.dir });
    assert.equal(put.sha256, `0x${sha(data)}`);
    const back = await fetchBytes(put.url, { ca: await localStorageCa(t.dir) });
    assert.deepEqual(back, data);
    // Without trusting the certificate, TLS refuses.
    await assert.rejects(fetchBytes(put.url), (e) => isSealworkError(e, 'DOWNLOAD_FAILED'));
    const ep = JSON.parse(readFileSync(join(t.dir, 'storage', 'endpoint.json'), 'utf8')) as { url: string };
    assert.equal(ep.url, s.url);
  });

  it('`sealwork storage put` stores a file in the running storage and prints its URL', async () => {
    const file = join(t.dir, 'cli.bin');
    const data = randomBytes(2048);
    writeFileSync(file, data);
    const r = await runCli(['--home', t.dir, '--json', 'storage', 'put', file]);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout) as { url: string; sha256: string };
    assert.equal(j.sha256, `0x${sha(data)}`);
    assert.equal(j.url, `${s.url}/objects/${sha(data)}`);
    const none = tempDir();
    try {
      const r2 = await runCli(['--home', none.dir, '--json', 'storage', 'put', file]);
      assert.equal(r2.code, 1);
      assert.equal((JSON.parse(r2.stdout) as { error: { code: string } }).error.code, 'STORAGE_NOT_RUNNING');
    } finally {
      none.cleanup();
    }
  });

  it('putFile streams a file from disk (many chunks) and refuses a folder', async () => {
    const file = join(t.dir, 'big.bin');
    const data = randomBytes(900 * 1024 + 7);
    writeFileSync(file, data);
    const r = await putFile({ file, url: s.url, home: t.dir });
    assert.equal(r.sha256, `0x${sha(data)}`);
    assert.equal(r.size, data.length);
    assert.equal(sha(await fetchBytes(r.url, { ca: await localStorageCa(t.dir) })), sha(data));
    await assert.rejects(putFile({ file: t.dir, url: s.url, home: t.dir }), (e) =>
      isSealworkError(e, 'FILE_IS_DIRECTORY'),
    );
  });

  it('enforces the size limit over the wire', async () => {
    await assert.rejects(
      putObject({ url: s.url, data: randomBytes((1 << 20) + 1), ca: await localStorageCa(t.dir) }),
      (e) => isSealworkError(e, 'OBJECT_TOO_LARGE'),
    );
    const r = await httpCall(new URL(`/objects/${'a'.repeat(64)}`, s.url), {
      ca: await localStorageCa(t.dir),
    });
    assert.equal(r.status, 404);
  });

  it('fetches file:// locations and bounds downloads', async () => {
    const file = join(t.dir, 'local.bin');
    writeFileSync(file, randomBytes(100));
    assert.equal((await fetchBytes(pathToFileURL(file).href)).length, 100);
    await assert.rejects(fetchBytes(pathToFileURL(file).href, { maxBytes: 10 }), (e) =>
      isSealworkError(e, 'DOWNLOAD_TOO_LARGE'),
    );
    await assert.rejects(fetchBytes('ftp://x/y'), (e) => isSealworkError(e, 'URL_SCHEME_UNSUPPORTED'));
    assert.equal(
      resolveLocation('/ipfs/QmX/a.csv', 'https://gw.example/').href,
      'https://gw.example/ipfs/QmX/a.csv',
    );
    assert.equal(resolveLocation('ipfs://QmX').href, 'https://ipfs.io/ipfs/QmX');
  });

  it('file:// for a worker: refused by default, else only under its folder (symlinks resolved)', async () => {
    const root = join(t.dir, 'served');
    mkdirSync(root, { recursive: true });
    writeFileSync(join(root, 'in.txt'), 'ok');
    const outside = join(t.dir, 'secret.txt');
    writeFileSync(outside, 'host secret');
    symlinkSync(outside, join(root, 'escape.txt'));
    const refused = (e: unknown) => isSealworkError(e, 'FILE_URL_REFUSED');
    const url = (p: string) => pathToFileURL(p).href;
    await assert.rejects(fetchBytes(url(join(root, 'in.txt')), { fileRoot: false }), refused);
    assert.equal((await fetchBytes(url(join(root, 'in.txt')), { fileRoot: root })).toString(), 'ok');
    await assert.rejects(fetchBytes(url(outside), { fileRoot: root }), refused);
    await assert.rejects(fetchBytes(url(join(root, 'escape.txt')), { fileRoot: root }), refused);
    await assert.rejects(fetchBytes(url(`${root}-sibling/x`), { fileRoot: root }), refused);
  });
});
