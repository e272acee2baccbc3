import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createDecipheriv, randomBytes } from 'node:crypto';
import { promises as fs, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { IExecConfig, IExecDatasetModule } from 'iexec';
import {
  checksumBuffer,
  decryptDatasetBuffer,
  encryptDatasetBuffer,
  generateDatasetKey,
  parseDatasetKey,
} from '../../src/crypto/dataset.js';
import { isSealworkError } from '../../src/errors.js';
import {
  datasetChecksum,
  decryptDataset,
  encryptDataset,
  readDatasetKeyFile,
} from '../../src/sdk/dataset.js';
import { tempDir } from '../helpers/cli.js';

// The real iExec SDK; encrypt/checksum need no chain, the provider is never contacted.
const iexecDataset = new IExecDatasetModule(
  new IExecConfig({ ethProvider: 'http://127.0.0.1:1' }, { allowExperimentalNetworks: true }),
);

const SIZES = [0, 1, 15, 16, 17, 4096, (1 << 20) + 3];

function sha256sum(path: string): string {
  return execFileSync('sha256sum', [path], { encoding: 'utf8' }).split(' ')[0]!;
}

async function expectCode(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(isSealworkError(e), `expected a SealworkError, got ${e}`);
    assert.equal(e.code, code, e.message);
    return true;
  });
}

let tmp: { dir: string; cleanup: () => void };
before(() => {
  tmp = tempDir();
});
after(() => tmp.cleanup());

/** Files in the temp dir whose name marks an in-progress write. */
async function partials(): Promise<string[]> {
  return (await fs.readdir(tmp.dir)).filter((n) => n.endsWith('.partial'));
}

describe('dataset key', () => {
  it('is 32 random bytes as 44 base64 characters', () => {
    const a = generateDatasetKey();
    const b = generateDatasetKey();
    assert.equal(a.length, 44);
    assert.equal(Buffer.from(a, 'base64').length, 32);
    assert.notEqual(a, b);
    assert.equal(parseDatasetKey(`${a}\n`).length, 32);
  });

  for (const bad of [
    '',
    'abc',
    Buffer.alloc(31).toString('base64'),
    Buffer.alloc(33).toString('base64'),
    '!'.repeat(44),
  ]) {
    it(`refuses ${JSON.stringify(bad).slice(0, 20)} with DATASET_KEY_INVALID`, () => {
      assert.throws(
        () => parseDatasetKey(bad),
        (e: unknown) => isSealworkError(e, 'DATASET_KEY_INVALID'),
      );
    });
  }
});

describe('interop with the iExec SDK', () => {
  for (const size of SIZES) {
    it(`decrypts what iexec encrypts (${size} bytes), files and buffers`, async () => {
      const plain = randomBytes(size);
      const key = iexecDataset.generateEncryptionKey();
      const enc: Buffer = await iexecDataset.encrypt(plain, key);
      assert.deepEqual(decryptDatasetBuffer(enc, key), plain);
      const encPath = join(tmp.dir, `iexec-${size}.enc`);
      await fs.writeFile(encPath, enc);
      const out = join(tmp.dir, `iexec-${size}.out`);
      const r = await decryptDataset({ input: encPath, key, output: out });
      assert.equal(r.plainSize, size);
      assert.deepEqual(await fs.readFile(out), plain);
      // Same checksum as the SDK's computeEncryptedFileChecksum and sha256sum.
      const sdkSum: string = await iexecDataset.computeEncryptedFileChecksum(enc);
      assert.equal(await datasetChecksum({ input: encPath }), sdkSum);
      assert.equal(checksumBuffer(enc), `0x${sha256sum(encPath)}`);
    });
  }

  it('produces files that openssl and node:crypto decrypt, with checksums equal to sha256sum', async () => {
    for (const size of SIZES) {
      const plainPath = join(tmp.dir, `plain-${size}`);
      const plain = randomBytes(size);
      await fs.writeFile(plainPath, plain);
      const r = await encryptDataset({
        input: plainPath,
        output: `${plainPath}.enc`,
        keyFile: `${plainPath}.key`,
      });
      const enc = await fs.readFile(r.output);
      assert.equal(enc.length, 16 + (Math.floor(size / 16) + 1) * 16, 'IV + PKCS#7-padded ciphertext');
      assert.equal(r.checksum, `0x${sha256sum(r.output)}`);
      assert.equal(r.encryptedSize, enc.length);
      const key = Buffer.from(await readDatasetKeyFile(r.keyFile), 'base64');
      const viaOpenssl = execFileSync(
        'openssl',
        ['enc', '-d', '-aes-256-cbc', '-K', key.toString('hex'), '-iv', enc.subarray(0, 16).toString('hex')],
        { input: enc.subarray(16), maxBuffer: 64 << 20 },
      );
      assert.deepEqual(viaOpenssl, plain);
      const d = createDecipheriv('aes-256-cbc', key, enc.subarray(0, 16));
      assert.deepEqual(Buffer.concat([d.update(enc.subarray(16)), d.final()]), plain);
      // The iExec SDK computes the same checksum over our file.
      assert.equal(await iexecDataset.computeEncryptedFileChecksum(enc), r.checksum);
    }
  });

  it('large files (checksum hashed on a worker thread) match sha256sum and openssl', async () => {
    const size = (40 << 20) + 5;
    const plainPath = join(tmp.dir, 'large.bin');
    await fs.writeFile(plainPath, randomBytes(size));
    const r = await encryptDataset({
      input: plainPath,
      output: `${plainPath}.enc`,
      keyFile: `${plainPath}.key`,
    });
    assert.equal(r.checksum, `0x${sha256sum(r.output)}`);
    assert.equal(r.encryptedSize, 16 + (Math.floor(size / 16) + 1) * 16);
    assert.equal((await fs.stat(r.output)).size, r.encryptedSize);
    const back = join(tmp.dir, 'large.back');
    await decryptDataset({ input: r.output, keyFile: r.keyFile, output: back });
    assert.equal(sha256sum(back), sha256sum(plainPath));
  });

  it('writes the key file with mode 0600 and never the key into the encrypted file', async () => {
    const p = join(tmp.dir, 'mode.txt');
    await fs.writeFile(p, 'x');
    const r = await encryptDataset({ input: p, keyFile: join(tmp.dir, 'mode.key') });
    assert.equal(statSync(r.keyFile).mode & 0o777, 0o600);
    assert.equal((await fs.readFile(r.keyFile, 'utf8')).trim(), r.key);
    assert.equal((await fs.readFile(r.output)).includes(Buffer.from(r.key, 'base64')), false);
  });
});

describe('bad input leaves nothing behind', () => {
  const fixedKey = Buffer.alloc(32, 7).toString('base64');
  const wrongKey = Buffer.alloc(32, 8).toString('base64');
  const fixedIv = Buffer.alloc(16, 1);
  const plain = Buffer.from('name,value\nalice,1\nbob,2\n');

  it('wrong key: DATASET_DECRYPT_FAILED, no output', async () => {
    const enc = join(tmp.dir, 'wrongkey.enc');
    await fs.writeFile(enc, encryptDatasetBuffer(plain, fixedKey, fixedIv));
    const out = join(tmp.dir, 'wrongkey.out');
    await expectCode(decryptDataset({ input: enc, key: wrongKey, output: out }), 'DATASET_DECRYPT_FAILED');
    await assert.rejects(fs.access(out));
    assert.deepEqual(await partials(), []);
    assert.throws(
      () => decryptDatasetBuffer(encryptDatasetBuffer(plain, fixedKey, fixedIv), wrongKey),
      /wrong key/,
    );
  });

  it('corrupted last block: DATASET_DECRYPT_FAILED, no output', async () => {
    const bytes = encryptDatasetBuffer(plain, fixedKey, fixedIv);
    bytes[bytes.length - 1]! ^= 0x55;
    const enc = join(tmp.dir, 'corrupt.enc');
    await fs.writeFile(enc, bytes);
    const out = join(tmp.dir, 'corrupt.out');
    await expectCode(decryptDataset({ input: enc, key: fixedKey, output: out }), 'DATASET_DECRYPT_FAILED');
    await assert.rejects(fs.access(out));
    assert.deepEqual(await partials(), []);
  });

  for (const len of [0, 10, 31, 33, 47]) {
    it(`truncated file of ${len} bytes: DATASET_TRUNCATED, no output`, async () => {
      const enc = join(tmp.dir, `trunc-${len}.enc`);
      await fs.writeFile(enc, encryptDatasetBuffer(randomBytes(40), fixedKey).subarray(0, len));
      const out = join(tmp.dir, `trunc-${len}.out`);
      await expectCode(decryptDataset({ input: enc, key: fixedKey, output: out }), 'DATASET_TRUNCATED');
      await assert.rejects(fs.access(out));
    });
  }

  it('a key file that is not base64 of 32 bytes: DATASET_KEY_INVALID', async () => {
    const enc = join(tmp.dir, 'k.enc');
    await fs.writeFile(enc, encryptDatasetBuffer(plain, fixedKey));
    const keyFile = join(tmp.dir, 'bad.key');
    await fs.writeFile(keyFile, Buffer.alloc(16).toString('base64'));
    await expectCode(
      decryptDataset({ input: enc, keyFile, output: join(tmp.dir, 'k.out') }),
      'DATASET_KEY_INVALID',
    );
    await expectCode(
      encryptDataset({
        input: enc,
        key: 'not-a-key',
        output: join(tmp.dir, 'k2.enc'),
        keyFile: join(tmp.dir, 'k2.key'),
      }),
      'DATASET_KEY_INVALID',
    );
  });

  it('missing input or key file: FILE_NOT_FOUND, no output', async () => {
    const out = join(tmp.dir, 'missing.enc');
    await expectCode(
      encryptDataset({ input: join(tmp.dir, 'nope'), output: out, keyFile: join(tmp.dir, 'missing.key') }),
      'FILE_NOT_FOUND',
    );
    await assert.rejects(fs.access(out));
    await assert.rejects(fs.access(join(tmp.dir, 'missing.key')));
    await expectCode(
      decryptDataset({ input: join(tmp.dir, 'nope.enc'), key: fixedKey, output: join(tmp.dir, 'x') }),
      'FILE_NOT_FOUND',
    );
    await expectCode(
      decryptDataset({ input: join(tmp.dir, 'nope.enc'), keyFile: join(tmp.dir, 'nope.key') }),
      'FILE_NOT_FOUND',
    );
  });

  it('existing output or key file: OUTPUT_EXISTS unless force, and the existing files are untouched', async () => {
    const p = join(tmp.dir, 'exists.txt');
    await fs.writeFile(p, 'data');
    const out = join(tmp.dir, 'exists.enc');
    const keyFile = join(tmp.dir, 'exists.key');
    await fs.writeFile(out, 'precious');
    await expectCode(encryptDataset({ input: p, output: out, keyFile }), 'OUTPUT_EXISTS');
    assert.equal(await fs.readFile(out, 'utf8'), 'precious');
    await assert.rejects(fs.access(keyFile), 'no key file written when the output is refused');
    await fs.rm(out);
    await fs.writeFile(keyFile, 'old key');
    await expectCode(encryptDataset({ input: p, output: out, keyFile }), 'OUTPUT_EXISTS');
    await assert.rejects(fs.access(out), 'no encrypted file written when the key file is refused');
    const r = await encryptDataset({ input: p, output: out, keyFile, force: true });
    assert.equal(await readDatasetKeyFile(keyFile), r.key);
    await expectCode(decryptDataset({ input: out, keyFile, output: p }), 'OUTPUT_EXISTS');
    assert.equal(await fs.readFile(p, 'utf8'), 'data');
    await decryptDataset({ input: out, keyFile, output: p, force: true });
    assert.equal(await fs.readFile(p, 'utf8'), 'data');
  });

  it('refuses to write the output onto the input', async () => {
    const p = join(tmp.dir, 'same.txt');
    await fs.writeFile(p, 'x');
    await expectCode(encryptDataset({ input: p, output: p, force: true }), 'OUTPUT_IS_INPUT');
    assert.equal(await fs.readFile(p, 'utf8'), 'x');
  });

  it('an aborted encryption leaves no partial file', async () => {
    const p = join(tmp.dir, 'abort.bin');
    await fs.writeFile(p, randomBytes(40 << 20)); // large enough for the worker-thread hasher
    const ac = new AbortController();
    const out = join(tmp.dir, 'abort.enc');
    const keyFile = join(tmp.dir, 'abort.key');
    const run = encryptDataset({
      input: p,
      output: out,
      keyFile,
      signal: ac.signal,
      onProgress: (done) => {
        if (done >= 2 << 20) ac.abort();
      },
    });
    await assert.rejects(run);
    await assert.rejects(fs.access(out));
    await assert.rejects(fs.access(keyFile));
    assert.deepEqual(await partials(), []);
  });
});
