import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { closeSync, constants, mkdirSync, openSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { utils as iexecUtils } from 'iexec';
import { keccak256 } from 'viem';
import { isSealworkError } from '../../src/errors.js';
import {
  computeResultDigest,
  decryptResult,
  encryptResult,
  ENC_KEY_FILE,
  ENC_RESULT_FILE,
  isEncryptedResult,
  PKCS1_WARNING,
  MAX_COMPUTED_JSON_BYTES,
  readComputedJson,
} from '../../src/worker/postcompute.js';
import { DEFAULT_MAX_RESULT_BYTES } from '../../src/enclave/output-folder.js';
import { unzipEntries, zipFolder } from '../../src/worker/zip.js';
import { tempDir } from '../helpers/cli.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest();
const rsa = () =>
  generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });

describe('computed.json and the result digest (iExec formulas)', () => {
  const t = tempDir();
  after(t.cleanup);

  it('file: 0x + sha256 of the deterministic output', async () => {
    const out = join(t.dir, 'file');
    mkdirSync(out);
    const result = Buffer.from('hello result\n');
    writeFileSync(join(out, 'result.txt'), result);
    writeFileSync(
      join(out, 'computed.json'),
      JSON.stringify({ 'deterministic-output-path': '/iexec_out/result.txt' }),
    );
    const c = await readComputedJson(out);
    assert.equal(c.deterministicOutputPath, '/iexec_out/result.txt');
    assert.equal(await computeResultDigest(out, c), `0x${sha(result).toString('hex')}`);
  });

  it('folder: keccak256 of the sha256 of its top-level files sorted by name', async () => {
    const out = join(t.dir, 'folder');
    mkdirSync(join(out, 'res', 'sub'), { recursive: true });
    const b = Buffer.from('bbb');
    const a = Buffer.from('aaa');
    const upper = Buffer.from('Z first in byte order');
    writeFileSync(join(out, 'res', 'b.txt'), b);
    writeFileSync(join(out, 'res', 'a.txt'), a);
    writeFileSync(join(out, 'res', 'Z.txt'), upper);
    writeFileSync(join(out, 'res', 'sub', 'ignored.txt'), 'nested');
    writeFileSync(
      join(out, 'computed.json'),
      JSON.stringify({ 'deterministic-output-path': '/iexec_out/res' }),
    );
    const expected = keccak256(Buffer.concat([sha(upper), sha(a), sha(b)]));
    assert.equal(await computeResultDigest(out, await readComputedJson(out)), expected);
  });

  it('web3: keccak256 of the callback data', async () => {
    const out = join(t.dir, 'cb');
    mkdirSync(out);
    writeFileSync(join(out, 'computed.json'), JSON.stringify({ 'callback-data': '0x1234' }));
    assert.equal(await computeResultDigest(out, await readComputedJson(out)), keccak256('0x1234'));
  });

  it('refuses a missing or malformed computed.json and paths outside /iexec_out', async () => {
    const out = join(t.dir, 'bad');
    mkdirSync(out);
    await assert.rejects(readComputedJson(out), (e) => isSealworkError(e, 'COMPUTED_JSON_MISSING'));
    writeFileSync(join(out, 'computed.json'), '{nope');
    await assert.rejects(readComputedJson(out), (e) => isSealworkError(e, 'COMPUTED_JSON_INVALID'));
    writeFileSync(join(out, 'computed.json'), '{}');
    await assert.rejects(readComputedJson(out), (e) => isSealworkError(e, 'COMPUTED_JSON_INVALID'));
    await assert.rejects(
      computeResultDigest(out, { deterministicOutputPath: '/iexec_out/../etc/passwd' }),
      (e) => isSealworkError(e, 'DETERMINISTIC_OUTPUT_INVALID'),
    );
    await assert.rejects(computeResultDigest(out, { deterministicOutputPath: '/iexec_out/none' }), (e) =>
      isSealworkError(e, 'DETERMINISTIC_OUTPUT_MISSING'),
    );
  });
});

describe('result zip and encryption', () => {
  const t = tempDir();
  after(t.cleanup);
  const out = join(t.dir, 'iexec_out');
  mkdirSync(join(out, 'd'), { recursive: true });
  writeFileSync(join(out, 'result.txt'), 'the answer is 42\n');
  writeFileSync(join(out, 'd', 'x.bin'), randomBytes(1000));
  writeFileSync(join(out, 'computed.json'), '{"deterministic-output-path":"/iexec_out/result.txt"}');
  const beneficiary = rsa();
  const other = rsa();

  it('zips /iexec_out deterministically with relative paths', async () => {
    const z1 = await zipFolder(out);
    const z2 = await zipFolder(out);
    assert.deepEqual(z1, z2);
    const entries = await unzipEntries(z1);
    assert.deepEqual([...entries.keys()].sort(), ['computed.json', 'd/x.bin', 'result.txt']);
    assert.equal(entries.get('result.txt')?.toString(), 'the answer is 42\n');
  });

  it('encrypts with RSA-OAEP-SHA256 by default and decrypts back; a wrong key cannot decrypt', async () => {
    const zip = await zipFolder(out);
    const enc = await encryptResult(zip, beneficiary.publicKey);
    const entries = await unzipEntries(enc);
    assert.deepEqual([...entries.keys()].sort(), [ENC_KEY_FILE, ENC_RESULT_FILE]);
    assert.equal(entries.get(ENC_KEY_FILE)?.length, 256);
    assert.ok(await isEncryptedResult(enc));
    assert.ok(!(await isEncryptedResult(zip)));
    const warnings: string[] = [];
    const r = await decryptResult(enc, beneficiary.privateKey, { onWarning: (w) => warnings.push(w) });
    assert.equal(r.format, 'oaep-sha256');
    assert.deepEqual(r.zip, zip);
    assert.deepEqual(warnings, []);
    await assert.rejects(decryptResult(enc, other.privateKey), (e) =>
      isSealworkError(e, 'RESULT_KEY_MISMATCH'),
    );
    // The iExec SDK (PKCS#1 v1.5 only) cannot read the OAEP format.
    await assert.rejects(iexecUtils.decryptResult(enc, beneficiary.privateKey));
  });

  it('iExec format: the real iexec SDK decrypts our result; we decrypt it with a warning', async () => {
    const zip = await zipFolder(out);
    // The SMS stores the beneficiary key as base64 of the PEM.
    const enc = await encryptResult(zip, Buffer.from(beneficiary.publicKey).toString('base64'), 'iexec');
    const byIexec = await iexecUtils.decryptResult(enc, beneficiary.privateKey);
    assert.deepEqual(Buffer.from(byIexec), zip);
    const warnings: string[] = [];
    const r = await decryptResult(enc, beneficiary.privateKey, { onWarning: (w) => warnings.push(w) });
    assert.equal(r.format, 'iexec');
    assert.deepEqual(r.zip, zip);
    assert.deepEqual(warnings, [PKCS1_WARNING]);
    await assert.rejects(decryptResult(enc, other.privateKey), (e) =>
      isSealworkError(e, 'RESULT_KEY_MISMATCH'),
    );
    await assert.rejects(iexecUtils.decryptResult(enc, other.privateKey));
  });

  it('refuses a key that is not RSA and a result that is not encrypted', async () => {
    const zip = await zipFolder(out);
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({
      type: 'spki',
      format: 'pem',
    });
    await assert.rejects(encryptResult(zip, ec.toString()), (e) => isSealworkError(e, 'RESULT_KEY_INVALID'));
    await assert.rejects(encryptResult(zip, 'garbage'), (e) => isSealworkError(e, 'RESULT_KEY_INVALID'));
    await assert.rejects(decryptResult(zip, beneficiary.privateKey), (e) =>
      isSealworkError(e, 'RESULT_NOT_ENCRYPTED'),
    );
  });
});

/** The error's code and details, to compare in one assertion. */
const refusal = (e: unknown) =>
  isSealworkError(e) ? { code: e.code, details: e.details } : { code: undefined, error: String(e) };

/**
 * Settle as `p` does, while watching `fifo` for a reader: opening a FIFO's write end without
 * blocking succeeds only when something has it open for reading, and such a reader would block
 * until a writer comes. A reader is the failure: the watch releases it (the write end opened and
 * closed gives it EOF) and rejects. The marker is the reader itself, not a clock.
 */
async function withoutReader<T>(fifo: string, p: Promise<T>): Promise<T> {
  let done = false;
  const watch = (async (): Promise<never> => {
    for (;;) {
      let opened = false;
      try {
        closeSync(openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK));
        opened = true;
      } catch (e) {
        // ENXIO: no reader; ENOENT: no FIFO there (a case without one).
        const code = (e as NodeJS.ErrnoException).code;
        if (code !== 'ENXIO' && code !== 'ENOENT') throw e;
      }
      if (opened) throw new Error(`something opened ${fifo} for reading: it would block`);
      if (done) return new Promise<never>(() => undefined);
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  try {
    return await Promise.race([p, watch]);
  } finally {
    done = true;
  }
}

describe('post-compute reads only regular files inside /iexec_out (issue 18, finding 2)', () => {
  const t = tempDir();
  after(t.cleanup);
  // A stand-in for a host folder the app must not read through /iexec_out (such as /etc).
  const host = join(t.dir, 'host-etc');
  mkdirSync(host);
  const secret = Buffer.from('host-secret-hostname\n');
  writeFileSync(join(host, 'hostname'), secret);
  writeFileSync(join(host, 'computed.json'), '{"deterministic-output-path":"/iexec_out/result.txt"}');
  let n = 0;
  const outDir = () => {
    const out = join(t.dir, `out${n++}`);
    mkdirSync(out);
    writeFileSync(join(out, 'result.txt'), 'ok\n');
    return out;
  };
  const mkfifo = (p: string) => execFileSync('mkfifo', [p]);

  it('a symlinked folder in deterministic-output-path is refused (no digest of a host file)', async () => {
    const out = outDir();
    symlinkSync(host, join(out, 'l'));
    writeFileSync(
      join(out, 'computed.json'),
      JSON.stringify({ 'deterministic-output-path': '/iexec_out/l/hostname' }),
    );
    const c = await readComputedJson(out);
    const r = await computeResultDigest(out, c).then(
      (digest) => ({ digest }),
      (e: unknown) => refusal(e),
    );
    assert.notDeepEqual(r, { digest: `0x${sha(secret).toString('hex')}` }, 'digest of the host file');
    assert.deepEqual(r, {
      code: 'RESULT_ENTRY_REFUSED',
      details: { path: '/iexec_out/l', type: 'symlink' },
    });
  });

  it("a symlink as the deterministic output, or among a deterministic folder's files, is refused", async () => {
    const out = outDir();
    symlinkSync(join(host, 'hostname'), join(out, 'link.txt'));
    await assert.rejects(
      computeResultDigest(out, { deterministicOutputPath: '/iexec_out/link.txt' }),
      (e) => {
        assert.deepEqual(refusal(e), {
          code: 'RESULT_ENTRY_REFUSED',
          details: { path: '/iexec_out/link.txt', type: 'symlink' },
        });
        return true;
      },
    );
    mkdirSync(join(out, 'res'));
    writeFileSync(join(out, 'res', 'a.txt'), 'a');
    symlinkSync(join(host, 'hostname'), join(out, 'res', 'b.txt'));
    await assert.rejects(computeResultDigest(out, { deterministicOutputPath: '/iexec_out/res' }), (e) => {
      assert.deepEqual(refusal(e), {
        code: 'RESULT_ENTRY_REFUSED',
        details: { path: '/iexec_out/res/b.txt', type: 'symlink' },
      });
      return true;
    });
  });

  it('a symlink as computed.json is refused (the host file it points to is not read)', async () => {
    const out = outDir();
    symlinkSync(join(host, 'computed.json'), join(out, 'computed.json'));
    await assert.rejects(readComputedJson(out), (e) => {
      assert.deepEqual(refusal(e), {
        code: 'RESULT_ENTRY_REFUSED',
        details: { path: '/iexec_out/computed.json', type: 'symlink' },
      });
      assert.match((e as Error).message, /symbolic link.*regular files/);
      return true;
    });
  });

  it('a FIFO as computed.json is refused at once, without blocking', async () => {
    const out = outDir();
    const fifo = join(out, 'computed.json');
    mkfifo(fifo);
    const r = await withoutReader(
      fifo,
      readComputedJson(out).then(
        () => ({ code: 'read' }),
        (e: unknown) => refusal(e),
      ),
    );
    assert.deepEqual(r, {
      code: 'RESULT_ENTRY_REFUSED',
      details: { path: '/iexec_out/computed.json', type: 'fifo' },
    });
  });

  it('a FIFO as the deterministic output is refused without blocking', async () => {
    const out = outDir();
    const fifo = join(out, 'result.fifo');
    mkfifo(fifo);
    const r = await withoutReader(
      fifo,
      computeResultDigest(out, { deterministicOutputPath: '/iexec_out/result.fifo' }).then(
        (digest) => ({ digest }),
        (e: unknown) => refusal(e),
      ),
    );
    assert.deepEqual(r, {
      code: 'RESULT_ENTRY_REFUSED',
      details: { path: '/iexec_out/result.fifo', type: 'fifo' },
    });
  });

  it('the result zip refuses a FIFO, a socket, a file link or a folder link anywhere in /iexec_out', async () => {
    const cases: [string, (p: string) => Promise<void> | void, string][] = [
      ['d/pipe', (p) => void mkfifo(p), 'fifo'],
      ['d/etc', (p) => symlinkSync(host, p), 'symlink'],
      ['d/e/hostname', (p) => symlinkSync(join(host, 'hostname'), p), 'symlink'],
      ['sock', (p) => listenOn(p), 'socket'],
    ];
    const servers: ReturnType<typeof createServer>[] = [];
    const listenOn = (p: string) =>
      new Promise<void>((resolve, reject) => {
        const srv = createServer();
        servers.push(srv);
        srv.once('error', reject);
        srv.listen(p, resolve);
      });
    try {
      for (const [rel, make, type] of cases) {
        const out = outDir();
        mkdirSync(join(out, 'd', 'e'), { recursive: true });
        writeFileSync(join(out, 'd', 'ok.txt'), 'fine');
        await make(join(out, ...rel.split('/')));
        const r = await withoutReader(
          join(out, 'd', 'pipe'),
          zipFolder(out).then(
            async (z) => ({ entries: [...(await unzipEntries(z)).keys()].sort() }),
            (e: unknown) => refusal(e),
          ),
        );
        assert.deepEqual(
          r,
          { code: 'RESULT_ENTRY_REFUSED', details: { path: `/iexec_out/${rel}`, type } },
          rel,
        );
      }
    } finally {
      for (const srv of servers) srv.close();
    }
  });

  it('refuses a result over the maximum size, file count or depth', async () => {
    const out = outDir();
    mkdirSync(join(out, 'a', 'b', 'c'), { recursive: true });
    writeFileSync(join(out, 'big.bin'), randomBytes(4096));
    writeFileSync(join(out, 'a', 'b', 'c', 'deep.txt'), 'deep');
    writeFileSync(join(out, 'computed.json'), '{"deterministic-output-path":"/iexec_out/big.bin"}');
    const code = (p: Promise<unknown>) =>
      p.then(
        () => ({ code: 'accepted' }),
        (e: unknown) => refusal(e),
      );
    assert.deepEqual(await code(zipFolder(out, { maxBytes: 1024 })), {
      code: 'RESULT_TOO_LARGE',
      details: { path: '/iexec_out/big.bin', limit: 'bytes', max: 1024 },
    });
    assert.deepEqual(
      await code(
        computeResultDigest(out, { deterministicOutputPath: '/iexec_out/big.bin' }, { maxBytes: 1024 }),
      ),
      { code: 'RESULT_TOO_LARGE', details: { path: '/iexec_out/big.bin', limit: 'bytes', max: 1024 } },
    );
    assert.equal((await code(zipFolder(out, { maxEntries: 3 }))).code, 'RESULT_TOO_LARGE');
    assert.deepEqual(await code(zipFolder(out, { maxDepth: 2 })), {
      code: 'RESULT_TOO_LARGE',
      details: { path: '/iexec_out/a/b/c', limit: 'depth', max: 2 },
    });
    assert.equal((await code(zipFolder(out, { timeoutMs: -1 }))).code, 'RESULT_READ_TIMEOUT');
    // Within the bounds the same folder zips.
    assert.ok(await zipFolder(out, { maxBytes: 8192, maxEntries: 10, maxDepth: 4 }));

    // The default bound (128 MiB, the sandbox's /iexec_out bound), checked on the size before
    // reading: a sparse file.
    assert.equal(DEFAULT_MAX_RESULT_BYTES, 128 * 1024 * 1024);
    truncateSync(join(out, 'big.bin'), DEFAULT_MAX_RESULT_BYTES + 1);
    assert.deepEqual(await code(zipFolder(out)), {
      code: 'RESULT_TOO_LARGE',
      details: { path: '/iexec_out/big.bin', limit: 'bytes', max: DEFAULT_MAX_RESULT_BYTES },
    });
    assert.equal(
      (await code(computeResultDigest(out, { deterministicOutputPath: '/iexec_out/big.bin' }))).code,
      'RESULT_TOO_LARGE',
    );

    // computed.json is read up to 64 KiB.
    writeFileSync(
      join(out, 'computed.json'),
      `{"deterministic-output-path":"/iexec_out/x"${' '.repeat(MAX_COMPUTED_JSON_BYTES)}}`,
    );
    assert.equal((await code(readComputedJson(out))).code, 'COMPUTED_JSON_INVALID');
  });
});
