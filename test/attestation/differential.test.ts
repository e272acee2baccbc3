/**
 * Differential test against @phala/dcap-qvl (an independent implementation): same TCB status
 * and advisories on every vector, and the simulated platform's quotes verify there too (so the
 * simulated v3 layout is right).
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { createRequire } from 'node:module';
import { after, before, describe, it } from 'node:test';
import {
  collateralToJson,
  openSimPlatform,
  verifyQuoteSync,
  type SimPlatform,
} from '../../src/attestation/index.js';
import { tempDir } from '../helpers/cli.js';
import { CASES, SKIP, quoteVec } from './vectors.js';

interface QvlReport {
  status: string;
  advisory_ids: string[];
}
interface QvlVerifier {
  verify(quote: Buffer, collateral: unknown, nowSecs: number): QvlReport;
}
const qvl = createRequire(import.meta.url)('@phala/dcap-qvl') as {
  QuoteVerifier: { newProd(): QvlVerifier; newWithRootCa(der: Buffer): QvlVerifier };
};

function runQvl(verifier: QvlVerifier, quote: Uint8Array, collateral: unknown, at: Date): QvlReport | Error {
  try {
    return verifier.verify(Buffer.from(quote), collateral, at.getTime() / 1000);
  } catch (e) {
    return e as Error;
  }
}

describe('differential: sealwork vs @phala/dcap-qvl', { skip: SKIP }, () => {
  for (const c of CASES) {
    it(c.name, () => {
      const at = new Date(c.at);
      const collateral = c.collateral();
      const ours = verifyQuoteSync({ quote: quoteVec(c.quote), collateral, at });
      const theirs = runQvl(qvl.QuoteVerifier.newProd(), quoteVec(c.quote), collateralToJson(collateral), at);
      if (c.qvlRefuses) {
        // dcap-qvl folds a policy decision into verification; sealwork reports the fact instead.
        assert.ok(theirs instanceof Error && c.qvlRefuses.test(theirs.message), String(theirs));
        assert.equal(ours.ok, true);
        const id = ours.identity;
        const reported =
          (id.tee === 'sgx' && id.debug) ||
          (id.tee === 'tdx' && (id.debug || /[^0]/.test(id.mrServiceTd ?? '')));
        assert.ok(reported, 'the refusal reason is visible in the identity');
        return;
      }
      if (!c.ok) {
        assert.ok(theirs instanceof Error, 'dcap-qvl refuses too');
        assert.match(theirs.message, /TCB level/i);
        assert.equal(ours.ok, false);
        return;
      }
      assert.ok(!(theirs instanceof Error), String(theirs));
      assert.equal(ours.tcbStatus, theirs.status);
      assert.deepEqual(ours.advisoryIds, theirs.advisory_ids);
    });
  }
});

describe('differential: simulated quotes verify in dcap-qvl under the simulation root', () => {
  let home: { dir: string; cleanup: () => void };
  let sim: SimPlatform;
  before(async () => {
    home = tempDir();
    sim = await openSimPlatform(home.dir);
  });
  after(() => home.cleanup());

  it('same status, and dcap-qvl refuses it under the Intel root', async () => {
    const { quote, collateral } = await sim.quote({
      mrenclave: '11'.repeat(32),
      reportData: '22'.repeat(64),
    });
    const root = Buffer.from(new X509Certificate(sim.trustedRoot.pem).raw);
    const now = new Date();
    const theirs = runQvl(qvl.QuoteVerifier.newWithRootCa(root), quote, collateralToJson(collateral), now);
    assert.ok(!(theirs instanceof Error), String(theirs));
    assert.equal(theirs.status, 'UpToDate');
    const ours = verifyQuoteSync({ quote, collateral, at: now, trustedRoots: [sim.trustedRoot] });
    assert.equal(ours.tcbStatus, theirs.status);
    assert.ok(runQvl(qvl.QuoteVerifier.newProd(), quote, collateralToJson(collateral), now) instanceof Error);
  });
});
