import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  attest,
  openSimPlatform,
  parseQuote,
  policyValidator,
  simIssuer,
  verifyQuote,
  type SimPlatform,
} from '../../src/attestation/index.js';
import { isSealworkError } from '../../src/errors.js';
import { tempDir } from '../helpers/cli.js';

const MRENCLAVE = 'a1'.repeat(32);
const REPORT_DATA = 'c3'.repeat(64);

describe('simulated platform', () => {
  let home: { dir: string; cleanup: () => void };
  let sim: SimPlatform;
  before(async () => {
    home = tempDir();
    sim = await openSimPlatform(home.dir);
  });
  after(() => home.cleanup());

  it('round trip: sim quote → verify ok, simulated, identity exact', async () => {
    const { quote, collateral } = await sim.quote({
      mrenclave: MRENCLAVE,
      mrsigner: 'b2'.repeat(32),
      isvProdId: 7,
      isvSvn: 3,
      reportData: REPORT_DATA,
    });
    const r = await verifyQuote({ quote, collateral, trustedRoots: [sim.trustedRoot] });
    assert.equal(r.ok, true, JSON.stringify(r.checks.filter((c) => !c.ok)));
    assert.equal(r.simulated, true);
    assert.equal(r.tcbStatus, 'UpToDate');
    assert.deepEqual(r.advisoryIds, []);
    assert.equal(r.identity.tee, 'sgx');
    if (r.identity.tee !== 'sgx') return;
    assert.equal(r.identity.mrenclave, MRENCLAVE);
    assert.equal(r.identity.mrsigner, 'b2'.repeat(32));
    assert.equal(r.identity.isvProdId, 7);
    assert.equal(r.identity.isvSvn, 3);
    assert.equal(r.identity.reportData, REPORT_DATA);
    assert.equal(r.identity.debug, false);
  });

  it('produces exactly the SGX v3 layout', async () => {
    const { quote } = await sim.quote({ mrenclave: MRENCLAVE, reportData: REPORT_DATA });
    const b = Buffer.from(quote);
    assert.equal(b.readUInt16LE(0), 3); // version
    assert.equal(b.readUInt16LE(2), 2); // ECDSA P-256
    assert.equal(b.readUInt32LE(4), 0); // SGX
    assert.equal(b.subarray(12, 28).toString('hex'), '939a7233f79c4ca9940a0db3957f0607');
    assert.equal(b.subarray(48 + 64, 48 + 96).toString('hex'), MRENCLAVE);
    assert.equal(b.subarray(48 + 320, 48 + 384).toString('hex'), REPORT_DATA);
    const sigLen = b.readUInt32LE(432);
    assert.equal(436 + sigLen, b.length);
    // v3 tail: sig, key, QE report, QE sig, auth data, cert data type 5
    const authLen = b.readUInt16LE(436 + 128 + 384 + 64);
    assert.equal(b.readUInt16LE(436 + 128 + 384 + 64 + 2 + authLen), 5);
    const q = parseQuote(quote);
    assert.equal(q.certification.pemChain?.length, 3);
  });

  it('is refused without the simulation root, and by default policy', async () => {
    const { quote, collateral } = await sim.quote({ mrenclave: MRENCLAVE, reportData: REPORT_DATA });
    const r = await verifyQuote({ quote, collateral });
    assert.equal(r.ok, false);
    assert.equal(r.checks.find((c) => !c.ok)?.name, 'pck.chain');
    const denied = await attest({
      quote,
      collateral,
      policy: { mrenclave: [MRENCLAVE] },
      simulationRoot: sim.trustedRoot,
    });
    assert.equal(denied.result.ok, true);
    assert.equal(denied.verdict.allowed, false);
    assert.equal(denied.verdict.failed?.claim, 'simulation');
    const allowed = await attest({
      quote,
      collateral,
      policy: { mrenclave: [MRENCLAVE], allowSimulation: true },
      simulationRoot: sim.trustedRoot,
    });
    assert.equal(allowed.verdict.allowed, true);
    assert.equal(allowed.verdict.simulated, true);
  });

  it('debug attribute is reported and refused by default', async () => {
    const { quote, collateral } = await sim.quote({
      mrenclave: MRENCLAVE,
      attributes: '0700000000000000e700000000000000',
      reportData: REPORT_DATA,
    });
    const a = await attest({
      quote,
      collateral,
      policy: { mrenclave: MRENCLAVE, allowSimulation: true },
      simulationRoot: sim.trustedRoot,
    });
    assert.equal(a.result.identity.debug, true);
    assert.equal(a.verdict.failed?.claim, 'debug');
  });

  it('keeps its keys (0600) and reuses them; concurrent first use yields one platform', async () => {
    for (const f of ['root.key', 'pck-ca.key', 'pck.key', 'tcb-signing.key', 'attestation.key'])
      assert.equal(statSync(join(sim.dir, f)).mode & 0o777, 0o600, f);
    const again = await openSimPlatform(home.dir);
    assert.equal(again.trustedRoot.pem, sim.trustedRoot.pem);
    const fresh = tempDir();
    try {
      const many = await Promise.all(Array.from({ length: 6 }, () => openSimPlatform(fresh.dir)));
      const roots = new Set(many.map((p) => p.trustedRoot.pem));
      assert.equal(roots.size, 1, 'every opener sees the same platform');
      const reopened = await openSimPlatform(fresh.dir);
      assert.ok(roots.has(reopened.trustedRoot.pem));
      for (const p of many) {
        const { quote, collateral } = await p.quote({ mrenclave: MRENCLAVE, reportData: REPORT_DATA });
        assert.equal(
          (await verifyQuote({ quote, collateral, trustedRoots: [reopened.trustedRoot] })).ok,
          true,
        );
      }
    } finally {
      fresh.cleanup();
    }
  });

  it('rejects bad inputs with SIM_INVALID_INPUT', async () => {
    await assert.rejects(sim.quote({ mrenclave: 'zz', reportData: REPORT_DATA }), (e) =>
      isSealworkError(e, 'SIM_INVALID_INPUT'),
    );
    await assert.rejects(sim.quote({ mrenclave: MRENCLAVE, reportData: 'aa'.repeat(32) }), (e) =>
      isSealworkError(e, 'SIM_INVALID_INPUT'),
    );
  });
});

describe('Issuer / Validator with report-data binding', () => {
  it('accepts the bound report data, refuses another (constant-time compare)', async () => {
    const home = tempDir();
    try {
      const sim = await openSimPlatform(home.dir);
      const issuer = simIssuer(sim, { mrenclave: MRENCLAVE });
      const validator = policyValidator({
        policy: { mrenclave: MRENCLAVE, allowSimulation: true },
        simulationRoot: sim.trustedRoot,
      });
      const keyHash = Buffer.alloc(32, 7);
      const rd = Buffer.concat([keyHash, Buffer.alloc(32)]);
      const { quote, collateral } = await issuer.issue(rd);
      const ok = await validator.validate({ quote, collateral, reportData: keyHash });
      assert.equal(ok.verdict.allowed, true);
      assert.ok(ok.verdict.claims.some((c) => c.claim === 'reportData' && c.ok));
      const bad = await validator.validate({ quote, collateral, reportData: Buffer.alloc(32, 8) });
      assert.equal(bad.verdict.allowed, false);
      assert.equal(bad.verdict.failed?.claim, 'reportData');
    } finally {
      home.cleanup();
    }
  });
});

describe('simulated platform: concurrent first use across processes', () => {
  it('three processes opening the same fresh home end up with one root', async () => {
    const { spawn } = await import('node:child_process');
    const { pathToFileURL } = await import('node:url');
    const { ROOT } = await import('../helpers/cli.js');
    const home = tempDir();
    try {
      const mod = pathToFileURL(join(ROOT, 'src', 'attestation', 'index.ts')).href;
      const script = `const { openSimPlatform } = await import(${JSON.stringify(mod)}); const p = await openSimPlatform(${JSON.stringify(home.dir)}); process.stdout.write(p.trustedRoot.pem);`;
      const runOne = () =>
        new Promise<string>((resolve, reject) => {
          const c = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
            cwd: ROOT,
          });
          let out = '';
          let err = '';
          c.stdout.on('data', (d) => (out += d));
          c.stderr.on('data', (d) => (err += d));
          c.on('error', reject);
          c.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(err))));
        });
      const roots = await Promise.all([runOne(), runOne(), runOne()]);
      assert.equal(new Set(roots).size, 1);
      assert.equal((await openSimPlatform(home.dir)).trustedRoot.pem, roots[0]);
    } finally {
      home.cleanup();
    }
  });
});
