import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
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
  readComputedJson,
} from '../../src/worker/postcompute.js';
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
