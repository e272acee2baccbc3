/**
 * Pre-compute's dataset integrity: a TEE dataset whose on-chain checksum is zero is refused
 * (AES-CBC has no MAC: an unchecked dataset is malleable), unless the operator allows it.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, describe, it } from 'node:test';
import { encryptDatasetBuffer, generateDatasetKey } from '../../src/crypto/dataset.js';
import { isSealworkError } from '../../src/errors.js';
import { fetchDataset } from '../../src/worker/precompute.js';
import { tempDir } from '../helpers/cli.js';

const ZERO = `0x${'0'.repeat(64)}`;

describe('pre-compute: dataset checksum', () => {
  const t = tempDir();
  after(t.cleanup);
  const key = generateDatasetKey();
  const enc = encryptDatasetBuffer(Buffer.from('id,glucose\n1,100\n'), key);
  const file = join(t.dir, 'data.enc');
  writeFileSync(file, enc);
  // A dataset owner's file, then the same file with one bit flipped in the first block: AES-CBC
  // decrypts it without error into a plaintext with a chosen bit flipped in the second block.
  const flipped = Buffer.from(enc);
  flipped.writeUInt8(flipped.readUInt8(16) ^ 0x01, 16);
  const flippedFile = join(t.dir, 'flipped.enc');
  writeFileSync(flippedFile, flipped);
  const ds = (f: string, checksum: string) => ({
    address: `0x${'aa'.repeat(20)}`,
    url: pathToFileURL(f).href,
    checksum,
    key,
  });
  const o = { fileRoot: t.dir };

  it('a real checksum is checked: the genuine file decrypts, a flipped one is refused', async () => {
    const sum = `0x${createHash('sha256').update(enc).digest('hex')}`;
    assert.equal((await fetchDataset(ds(file, sum), o)).data.toString(), 'id,glucose\n1,100\n');
    await assert.rejects(fetchDataset(ds(flippedFile, sum), o), (e) =>
      isSealworkError(e, 'DATASET_CHECKSUM_MISMATCH'),
    );
  });

  it('a zero checksum is refused (DATASET_CHECKSUM_ZERO) before anything is fetched', async () => {
    for (const f of [file, flippedFile, join(t.dir, 'missing.enc')])
      await assert.rejects(fetchDataset(ds(f, ZERO), o), (e) => {
        assert.ok(isSealworkError(e, 'DATASET_CHECKSUM_ZERO'), String(e));
        assert.match((e as Error & { hint?: string }).hint ?? '', /--allow-unchecked-datasets/);
        return true;
      });
  });

  it('the operator may accept unchecked datasets explicitly: then the flipped file goes through', async () => {
    const got = await fetchDataset(ds(flippedFile, ZERO), o, { allowUnchecked: true });
    assert.notEqual(got.data.toString(), 'id,glucose\n1,100\n'); // malleated, undetected
  });
});
