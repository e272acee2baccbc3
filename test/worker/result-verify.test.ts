/** The requester's checks of a downloaded result (src/sdk/worker/result-verify.ts), piece by piece. */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { keccak256 } from 'viem';
import { isSealworkError } from '../../src/errors.js';
import {
  checkContentAddress,
  checkResultDigest,
  contentAddress,
  publishStaged,
  writeResultEntries,
} from '../../src/sdk/worker/result-verify.js';
import { zipEntries } from '../../src/worker/zip.js';
import { tempDir } from '../helpers/cli.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const T = `0x${'11'.repeat(32)}`;

describe('result verification', () => {
  const t = tempDir();
  after(t.cleanup);

  it('a content-addressed location must serve bytes hashing to its address', () => {
    const data = Buffer.from('result bytes');
    const hex = sha(data);
    assert.equal(contentAddress(`https://127.0.0.1:1/objects/${hex.toUpperCase()}`), hex);
    assert.equal(contentAddress(`https://s.example/objects/0x${hex}`), hex);
    for (const l of ['https://s.example/r.zip', 'ipfs://Qm…', 'not a url', `file:///objects/${hex}`])
      assert.equal(contentAddress(l), undefined, l);
    assert.equal(checkContentAddress(`https://s/objects/${hex}`, data), true);
    assert.equal(checkContentAddress('https://s/r.zip', data), false);
    assert.throws(
      () => checkContentAddress(`https://s/objects/${hex}`, Buffer.from('forged')),
      (e) => isSealworkError(e, 'RESULT_CONTENT_MISMATCH'),
    );
  });

  it("the digest follows iExec's rules (file, folder, callback) and refuses anything else", async () => {
    const out = Buffer.from('hello\n');
    const file = join(t.dir, 'file');
    await writeResultEntries(
      await zipEntries([
        { name: 'computed.json', data: Buffer.from('{"deterministic-output-path":"/iexec_out/r.txt"}') },
        { name: 'r.txt', data: out },
      ]),
      file,
    );
    await checkResultDigest(file, `0x${sha(out)}`, T);
    await assert.rejects(checkResultDigest(file, `0x${sha(Buffer.from('x'))}`, T), (e) =>
      isSealworkError(e, 'RESULT_DIGEST_MISMATCH'),
    );
    const folder = join(t.dir, 'folder');
    const a = Buffer.from('a');
    const b = Buffer.from('b');
    await writeResultEntries(
      await zipEntries([
        { name: 'computed.json', data: Buffer.from('{"deterministic-output-path":"/iexec_out/d"}') },
        { name: 'd/2', data: b },
        { name: 'd/1', data: a },
      ]),
      folder,
    );
    const both = Buffer.concat([Buffer.from(sha(a), 'hex'), Buffer.from(sha(b), 'hex')]);
    await checkResultDigest(folder, keccak256(both), T);
    const cb = join(t.dir, 'callback');
    await writeResultEntries(
      await zipEntries([{ name: 'computed.json', data: Buffer.from('{"callback-data":"0xabcd"}') }]),
      cb,
    );
    await checkResultDigest(cb, keccak256('0xabcd'), T);
    // No computed.json: no digest, so not the signed result.
    const none = join(t.dir, 'none');
    await writeResultEntries(await zipEntries([{ name: 'r.txt', data: out }]), none);
    await assert.rejects(checkResultDigest(none, `0x${sha(out)}`, T), (e) =>
      isSealworkError(e, 'RESULT_DIGEST_MISMATCH'),
    );
  });

  it('a verified staging folder is renamed to --out, or merged into it: existing files refused unless force', async () => {
    const zip = await zipEntries([
      { name: 'a.txt', data: Buffer.from('new') },
      { name: 'sub/b.txt', data: Buffer.from('new') },
    ]);
    const stage1 = join(t.dir, 'stage1');
    await writeResultEntries(zip, stage1);
    const fresh = join(t.dir, 'fresh');
    assert.deepEqual(await publishStaged(stage1, fresh, false), [
      join(fresh, 'a.txt'),
      join(fresh, 'sub', 'b.txt'),
    ]);
    assert.equal(existsSync(stage1), false);
    const existing = join(t.dir, 'existing');
    mkdirSync(join(existing, 'sub'), { recursive: true });
    writeFileSync(join(existing, 'sub', 'b.txt'), 'old');
    const stage2 = join(t.dir, 'stage2');
    await writeResultEntries(zip, stage2);
    await assert.rejects(publishStaged(stage2, existing, false), (e) => isSealworkError(e, 'OUTPUT_EXISTS'));
    assert.equal(existsSync(join(existing, 'a.txt')), false, 'nothing moved before the refusal');
    await publishStaged(stage2, existing, true);
    assert.equal(readFileSync(join(existing, 'sub', 'b.txt'), 'utf8'), 'new');
    assert.equal(readFileSync(join(existing, 'a.txt'), 'utf8'), 'new');
  });
});
