import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  computeMrEnclave,
  configPage,
  enclaveSize,
  formatFingerprint,
  normalizeRegions,
  parseFingerprint,
  parseSize,
  regionOf,
  splitCommand,
  type EnclaveConfig,
} from '../../src/enclave/index.js';
import { openFspf, sealFspf, storedFspfTag, type Fspf } from '../../src/enclave/fspf.js';
import { isSealworkError } from '../../src/errors.js';

// Known answers, cross-checked with the independent Python reference in docs/enclave.md.
const BIN = Buffer.from(Array.from({ length: 5000 }, (_, i) => i & 0xff));
const CFG: EnclaveConfig = {
  entrypoint: ['/bin/app', '--flag'],
  heapSize: 64 * 1024 * 1024,
  stackSize: 256 * 1024,
  threads: 2,
  debug: false,
};
const KA1 = '6736550ae99f5cccd6111f0f2175e19d76aee51eef916f3cf9a517c98c5bae8c';
const KA2 = '32f1cf9bb1041723f4c8f65cd597efe7306d3733a51e758b1673ee76edc2bc6b';

describe('MrEnclave', () => {
  it('matches the known answers', () => {
    assert.equal(computeMrEnclave(BIN, CFG), KA1);
    assert.equal(enclaveSize(BIN.length, CFG), 134217728n);
    assert.equal(
      computeMrEnclave(Buffer.from('#!'), {
        entrypoint: ['x'],
        heapSize: 4096,
        stackSize: 4096,
        threads: 1,
        debug: true,
      }),
      KA2,
    );
  });

  it('changes with the binary and with every configuration value', () => {
    const flipped = Buffer.from(BIN);
    flipped[4999] = flipped[4999]! ^ 1;
    const variants = [
      computeMrEnclave(flipped, CFG),
      computeMrEnclave(Buffer.concat([BIN, Buffer.alloc(1)]), CFG),
      computeMrEnclave(BIN, { ...CFG, heapSize: CFG.heapSize * 2 }),
      computeMrEnclave(BIN, { ...CFG, heapSize: CFG.heapSize + 4096 }),
      computeMrEnclave(BIN, { ...CFG, stackSize: CFG.stackSize * 2 }),
      computeMrEnclave(BIN, { ...CFG, threads: 3 }),
      computeMrEnclave(BIN, { ...CFG, debug: true }),
      computeMrEnclave(BIN, { ...CFG, entrypoint: ['/bin/app', '--other'] }),
    ];
    // Padding the last page with a zero byte is indistinguishable in SGX too (same page content).
    assert.equal(variants[1], KA1);
    for (const [i, v] of variants.entries()) if (i !== 1) assert.notEqual(v, KA1, `variant ${i}`);
    assert.equal(new Set(variants.filter((_, i) => i !== 1)).size, variants.length - 1);
  });

  it('lays out the configuration page as documented', () => {
    const p = configPage(CFG);
    assert.equal(p.length, 4096);
    assert.equal(p.subarray(0, 8).toString('latin1'), 'SCONECFG');
    assert.equal(p.readUInt32LE(8), 1);
    assert.equal(p.readBigUInt64LE(16), 64n * 1024n * 1024n);
    assert.equal(p.readUInt32LE(32), 2);
    assert.equal(p.subarray(40, 40 + p.readUInt32LE(36)).toString(), '/bin/app\0--flag');
  });

  it('refuses invalid configurations', () => {
    assert.throws(
      () => computeMrEnclave(BIN, { ...CFG, threads: 0 }),
      (e) => isSealworkError(e, 'ENCLAVE_CONFIG_INVALID'),
    );
    assert.throws(
      () => computeMrEnclave(BIN, { ...CFG, entrypoint: [] }),
      (e) => isSealworkError(e, 'ENCLAVE_CONFIG_INVALID'),
    );
    assert.throws(
      () => computeMrEnclave(BIN, { ...CFG, entrypoint: ['x'.repeat(5000)] }),
      (e) => isSealworkError(e, 'ENTRYPOINT_TOO_LONG'),
    );
  });
});

describe('fingerprint', () => {
  const fp = { mrenclave: 'a'.repeat(64), fspfKey: 'b'.repeat(64), fspfTag: 'c'.repeat(32) };
  it('round-trips and accepts 0x and upper case', () => {
    assert.deepEqual(parseFingerprint(formatFingerprint(fp)), fp);
    assert.deepEqual(parseFingerprint(`0x${'A'.repeat(64)}|${'b'.repeat(64)}|0x${'C'.repeat(32)}`), fp);
  });
  it('says which part is wrong', () => {
    for (const [s, part] of [
      [`${'a'.repeat(64)}|${'b'.repeat(64)}`, '3 parts'],
      [`${'a'.repeat(63)}|${'b'.repeat(64)}|${'c'.repeat(32)}`, 'MrEnclave'],
      [`${'a'.repeat(64)}|${'g'.repeat(64)}|${'c'.repeat(32)}`, 'FSPF_KEY'],
      [`${'a'.repeat(64)}|${'b'.repeat(64)}|${'c'.repeat(64)}`, 'FSPF_TAG'],
    ] as const)
      assert.throws(
        () => parseFingerprint(s),
        (e) => isSealworkError(e, 'FINGERPRINT_INVALID') && e.message.includes(part),
      );
  });
});

describe('parsers', () => {
  it('parses sizes and command lines', () => {
    assert.equal(parseSize('1G'), 1024 ** 3);
    assert.equal(parseSize('8m'), 8 * 1024 ** 2);
    assert.equal(parseSize('4096'), 4096);
    assert.throws(
      () => parseSize('1X'),
      (e) => isSealworkError(e, 'SIZE_INVALID'),
    );
    assert.throws(
      () => parseSize('0'),
      (e) => isSealworkError(e, 'SIZE_INVALID'),
    );
    assert.deepEqual(splitCommand(`python3 /app/x.py --name "a b" 'c d' e\\ f`), [
      'python3',
      '/app/x.py',
      '--name',
      'a b',
      'c d',
      'e f',
    ]);
    assert.throws(
      () => splitCommand('sh "x'),
      (e) => isSealworkError(e, 'COMMAND_INVALID'),
    );
  });

  it('validates regions and picks the longest prefix', () => {
    assert.deepEqual(normalizeRegions(), [{ path: '/', protection: 'authenticated' }]);
    assert.throws(
      () => normalizeRegions(['/app:authenticated', '/data:encrypted']),
      (e) => isSealworkError(e, 'REGION_ROOT_REQUIRED'),
    );
    assert.throws(
      () => normalizeRegions(['/app:secret']),
      (e) => isSealworkError(e, 'REGION_INVALID'),
    );
    assert.throws(
      () => normalizeRegions(['/.sealwork:encrypted']),
      (e) => isSealworkError(e, 'REGION_INVALID'),
    );
    const rs = normalizeRegions(['/:not-protected', '/data:encrypted', '/data/public:authenticated']);
    assert.equal(regionOf('/data/x', rs).protection, 'encrypted');
    assert.equal(regionOf('/data/public/y', rs).protection, 'authenticated');
    assert.equal(regionOf('/database', rs).protection, 'not-protected');
    assert.equal(regionOf('/data', rs).protection, 'encrypted');
  });
});

describe('FSPF sealing', () => {
  const key = Buffer.alloc(32, 7);
  const fspf: Fspf = {
    format: 'sealwork-fspf',
    version: 2,
    regions: [{ path: '/', protection: 'authenticated' }],
    entries: [{ path: '/app/run.sh', type: 'file', mode: 0o755, size: 3, sha256: 'aa'.repeat(32) }],
    env: ['PATH=/bin'],
    workingDir: '/',
    enclave: {
      mrenclave: 'bb'.repeat(32),
      measured: '/bin/busybox',
      entrypoint: ['/app/run.sh'],
      heapSize: 4096,
      stackSize: 4096,
      threads: 1,
      debug: false,
    },
  };
  it('round-trips, the tag is the stored GCM tag, and sealing is deterministic per key', () => {
    const a = sealFspf(fspf, key);
    assert.equal(a.tag.length, 16);
    assert.deepEqual(storedFspfTag(a.blob), a.tag);
    assert.deepEqual(openFspf(a.blob, key, a.tag), fspf);
    assert.deepEqual(sealFspf(fspf, key).blob, a.blob);
    const b = sealFspf({ ...fspf, env: ['PATH=/usr/bin'] }, key);
    assert.notDeepEqual(b.tag, a.tag);
    // The sealed enclave identity is covered by the tag too.
    const c = sealFspf({ ...fspf, enclave: { ...fspf.enclave, heapSize: 8192 } }, key);
    assert.notDeepEqual(c.tag, a.tag);
  });
  it('refuses a wrong key, a wrong tag and a flipped byte', () => {
    const a = sealFspf(fspf, key);
    const flipped = Buffer.from(a.blob);
    flipped[30] = flipped[30]! ^ 1;
    for (const [blob, k, tag] of [
      [a.blob, Buffer.alloc(32, 8), a.tag],
      [a.blob, key, Buffer.alloc(16)],
      [flipped, key, a.tag],
    ] as const)
      assert.throws(
        () => openFspf(blob, k, tag),
        (e) => isSealworkError(e, 'FSPF_AUTH_FAILED') && e.details?.file === '/.sealwork/fspf',
      );
  });
  it('refuses entry paths that climb out, even when authenticated', () => {
    const evil = sealFspf({ ...fspf, entries: [{ ...fspf.entries[0]!, path: '/../../etc/x' }] }, key);
    assert.throws(
      () => openFspf(evil.blob, key, evil.tag),
      (e) => isSealworkError(e, 'FSPF_INVALID'),
    );
    const evilMeasured = sealFspf({ ...fspf, enclave: { ...fspf.enclave, measured: '/../bin/sh' } }, key);
    assert.throws(
      () => openFspf(evilMeasured.blob, key, evilMeasured.tag),
      (e) => isSealworkError(e, 'FSPF_INVALID'),
    );
  });
  it('refuses a version 1 FSPF (no sealed enclave identity) with a rebuild hint', () => {
    const { enclave: _omit, ...rest } = fspf;
    const old = sealFspf({ ...rest, version: 1 } as unknown as Fspf, key);
    assert.throws(
      () => openFspf(old.blob, key, old.tag),
      (e) =>
        isSealworkError(e, 'FSPF_INVALID') &&
        /older sealwork/.test(e.message) &&
        /Rebuild/.test(e.hint ?? ''),
    );
  });
});
