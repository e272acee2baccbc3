/**
 * What `npm run fuzz` found (docs/fuzz.md), each kept as a test: the input class that made a
 * parser throw something other than a SealworkError, or hang, and the typed refusal it now gives.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { parseCert } from '../../src/attestation/certs.js';
import { createAppOrder, hashOrder, orderToJson, typedData } from '../../src/chain/orders.js';
import { openImage } from '../../src/enclave/oci.js';
import { unpackLayerBuffer } from '../../src/enclave/unpack.js';
import { isSealworkError } from '../../src/errors.js';
import { parseOrderFile } from '../../src/sdk/chain/orders.js';
import { tempDir } from '../helpers/cli.js';
import { layerTar, writeImage } from '../helpers/images.js';
import { VECTORS } from '../attestation/vectors.js';

/** The EIP-55 address with the case of one letter changed: its checksum no longer holds. */
function flipOneLetter(a: string): string {
  const i = a.slice(2).search(/[a-fA-F]/) + 2;
  assert.ok(i >= 2, 'the address has a letter');
  const c = a[i]!;
  return a.slice(0, i) + (c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase()) + a.slice(i + 1);
}

describe('fuzz finding: order files that are not orders (was: TypeError, viem errors)', async () => {
  const account = privateKeyToAccount(generatePrivateKey());
  const hub = privateKeyToAccount(generatePrivateKey()).address;
  const order = createAppOrder({ app: account.address, appprice: 5n, volume: 10n });
  const sign = await account.signTypedData(typedData('app', order, { chainId: 65535, hub }) as never);
  const good = { kind: 'app', chainId: 65535, hub, order: orderToJson({ ...order, sign }) };
  const withOrder = (patch: Record<string, unknown>) =>
    JSON.stringify({ ...good, order: { ...good.order, ...patch } });

  it('a good file parses and hashes to what was signed', () => {
    const s = parseOrderFile(JSON.stringify(good), 'good.json');
    assert.equal(s.kind, 'app');
    assert.equal(s.order.volume, 10n);
    assert.equal(
      hashOrder('app', s.order, { chainId: 65535, hub }),
      hashOrder('app', order, { chainId: 65535, hub }),
    );
  });

  const cases: [string, string][] = [
    ['JSON null', 'null'],
    ['a number', '0'],
    ['a string', '"app"'],
    ['an array', '[]'],
    ['an order that is a number', JSON.stringify({ ...good, order: 5 })],
    ['a 13-byte address', withOrder({ app: `0x${'00'.repeat(13)}` })],
    ['a mixed-case address with a wrong checksum', withOrder({ app: flipOneLetter(account.address) })],
    ['a decimal where an address goes', withOrder({ datasetrestrict: '4294967296' })],
    ['a 33-byte tag', withOrder({ tag: `0x${'00'.repeat(33)}` })],
    ['an empty salt', withOrder({ salt: '0x' })],
    ['a negative price', withOrder({ appprice: '-1' })],
    ['a price of 2^256', withOrder({ appprice: (1n << 256n).toString() })],
    ['a fractional volume', withOrder({ volume: 1.5 })],
    ['an empty volume', withOrder({ volume: '' })],
    ['a hub that is a number', JSON.stringify({ ...good, hub: 7 })],
    ['a chain id that is text', JSON.stringify({ ...good, chainId: 'x' })],
  ];
  for (const [what, text] of cases)
    it(`${what}: ORDER_INVALID`, () => {
      assert.throws(
        () => parseOrderFile(text, 'fuzz.json'),
        (e: unknown) => {
          assert.ok(isSealworkError(e, 'ORDER_INVALID'), String(e));
          return true;
        },
      );
    });
});

describe('fuzz finding: a certificate whose public key cannot be decoded (was: a raw OpenSSL error)', () => {
  it('is CERT_MALFORMED', () => {
    const pem = readFileSync(join(VECTORS, 'Intel_SGX_Provisioning_Certification_RootCA.pem'), 'utf8');
    const der = Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
    // id-ecPublicKey 1.2.840.10045.2.1 → 1.2.840.10045.2.9: the certificate parses, its key does not.
    const oid = Buffer.from('06072a8648ce3d0201', 'hex');
    const at = der.indexOf(oid);
    assert.ok(at > 0);
    der[at + oid.length - 1] = 0x09;
    const bad = `-----BEGIN CERTIFICATE-----\n${der.toString('base64')}\n-----END CERTIFICATE-----\n`;
    assert.throws(() => parseCert(bad), { code: 'CERT_MALFORMED' });
    assert.equal(parseCert(pem).subject.includes('Intel SGX Root CA'), true, 'the intact root still parses');
  });
});

describe('fuzz finding: an image archive cut inside an entry (was: openImage never settled)', () => {
  it('is IMAGE_INVALID', { timeout: 60_000 }, async () => {
    const t = tempDir();
    try {
      const layer = await layerTar([{ name: 'bin/run.sh', data: '#!/bin/sh\necho hi\n'.repeat(200) }]);
      const full = join(t.dir, 'image.tar');
      await writeImage(full, [layer], { format: 'oci-tar' });
      const bytes = readFileSync(full);
      // Cut inside the body of the last entry with a body: tar-stream destroys that entry before
      // the extractor reaches it, and piping a destroyed entry never ended.
      const cut = join(t.dir, 'cut.tar');
      let last = 0;
      for (let o = 0; o + 512 <= bytes.length; o += 512)
        if (bytes.subarray(o + 257, o + 262).toString('latin1') === 'ustar') {
          const size = parseInt(
            bytes
              .subarray(o + 124, o + 136)
              .toString('latin1')
              .trim(),
            8,
          );
          if (size > 1024) last = o + 512 + 600;
        }
      assert.ok(last > 0, 'an entry of more than 1 KiB');
      writeFileSync(cut, bytes.subarray(0, last));
      await assert.rejects(openImage(cut, { workDir: t.dir }), (e: unknown) => {
        assert.ok(isSealworkError(e, 'IMAGE_INVALID'), String(e));
        return true;
      });
    } finally {
      t.cleanup();
    }
  });
});

/** Give the first tar header of `tar` a size field tar-stream cannot decode (a negative base-256 number). */
function undecodableSize(tar: Buffer): Buffer {
  const b = Buffer.from(tar);
  b.write('0000011000 ', 125, 'latin1');
  b[124] = 0xf1;
  b.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += b[i]!;
  b.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return b;
}

describe('fuzz finding: a tar entry whose size field does not decode (was: never settled)', () => {
  it('in an image archive: IMAGE_INVALID', { timeout: 60_000 }, async () => {
    const t = tempDir();
    try {
      const file = join(t.dir, 'image.tar');
      writeFileSync(file, undecodableSize(await layerTar([{ name: 'index.json', data: '{}'.padEnd(700) }])));
      await assert.rejects(openImage(file, { workDir: t.dir }), (e: unknown) => {
        assert.ok(isSealworkError(e, 'IMAGE_INVALID'), String(e));
        assert.match(e.message, /unreadable size field/);
        return true;
      });
    } finally {
      t.cleanup();
    }
  });
  it('in a layer: LAYER_INVALID', { timeout: 60_000 }, async () => {
    const t = tempDir();
    try {
      const layer = undecodableSize(await layerTar([{ name: 'bin/run.sh', data: 'x'.repeat(700) }]));
      await assert.rejects(unpackLayerBuffer(layer, t.dir), (e: unknown) => {
        assert.ok(isSealworkError(e, 'LAYER_INVALID'), String(e));
        assert.match(e.message, /unreadable size field/);
        return true;
      });
    } finally {
      t.cleanup();
    }
  });
});
