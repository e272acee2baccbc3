/**
 * Forgeries an attacker holding a key *below* the trust anchor (or a mutable collateral object)
 * could try. Built on the simulated platform, whose keys are on disk, so each forgery is
 * correctly signed: only the verifier's structural checks can refuse it.
 */
import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  evaluatePolicy,
  openSimPlatform,
  parseCollateral,
  verifyQuoteSync,
  type Collateral,
  type PolicyInput,
  type SimPlatform,
} from '../../src/attestation/index.js';
import { buildCertificate, buildCrl } from '../../src/attestation/x509build.js';
import { isSealworkError } from '../../src/errors.js';
import { tempDir } from '../helpers/cli.js';

const SIM_O = 'sealwork (simulation, not Intel)';
const ROOT_NAME = { CN: 'sealwork Simulation SGX Root CA', O: SIM_O };
const PCK_CA_NAME = { CN: 'sealwork Simulation SGX PCK Platform CA', O: SIM_O };
/** v3 quote: header 48 ‖ body 384 ‖ sig len 4 ‖ signature 64 ‖ attestation key 64 ‖ QE report. */
const QE_REPORT_AT = 48 + 384 + 4 + 64 + 64;

describe('verifier hardening (forgeries signed below the anchor)', () => {
  let home: { dir: string; cleanup: () => void };
  let sim: SimPlatform;
  let key: (name: string) => KeyObject;
  let quote: Uint8Array;
  let collateral: Collateral;
  const verify = (q: Uint8Array, c: Collateral, at?: Date) =>
    verifyQuoteSync({ quote: q, collateral: c, trustedRoots: [sim.trustedRoot], ...(at ? { at } : {}) });
  const firstFailure = (r: ReturnType<typeof verify>) => r.checks.find((c) => !c.ok);

  before(async () => {
    home = tempDir();
    sim = await openSimPlatform(home.dir);
    key = (name) => createPrivateKey(readFileSync(join(sim.dir, `${name}.key`), 'utf8'));
    ({ quote, collateral } = sim.quoteSync({ mrenclave: 'a1'.repeat(32), reportData: 'c3'.repeat(64) }));
    const base = verify(quote, collateral);
    assert.equal(base.ok, true, JSON.stringify(firstFailure(base)));
  });
  after(() => home.cleanup());

  it('a TCB signer issued by an intermediate (not by the root itself) is refused', () => {
    const rootKey = key('root');
    const now = Date.now();
    const interKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const signerKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const span = { notBefore: new Date(now - 3600e3), notAfter: new Date(now + 86400e3) };
    const inter = buildCertificate({
      subject: { CN: 'Rogue Intermediate CA', O: SIM_O },
      issuer: ROOT_NAME,
      publicKey: createPublicKey(interKey),
      issuerKey: rootKey,
      issuerPublicKey: createPublicKey(rootKey),
      ca: true,
      ...span,
    });
    const signer = buildCertificate({
      subject: { CN: 'Rogue SGX TCB Signing', O: SIM_O },
      issuer: { CN: 'Rogue Intermediate CA', O: SIM_O },
      publicKey: createPublicKey(signerKey),
      issuerKey: interKey,
      issuerPublicKey: createPublicKey(interKey),
      ca: false,
      ...span,
    });
    const chain = signer + inter + sim.trustedRoot.pem;
    const sig = (t: string) => sign('sha256', Buffer.from(t), { key: signerKey, dsaEncoding: 'ieee-p1363' });
    const forged: Collateral = {
      ...collateral,
      tcbInfoSignature: sig(collateral.tcbInfo),
      tcbInfoIssuerChain: chain,
      qeIdentitySignature: sig(collateral.qeIdentity),
      qeIdentityIssuerChain: chain,
    };
    const r = verify(quote, forged);
    assert.equal(r.ok, false);
    assert.equal(firstFailure(r)?.name, 'tcb.info.chain');
    assert.match(firstFailure(r)!.detail, /2 certificates below the root, expected 1/);
  });

  it('cached chain results keep the simulation flag of the root they were checked under', () => {
    const asReal = { ...sim.trustedRoot, name: 'same certificate, trusted as real' };
    const real = verifyQuoteSync({
      quote,
      collateral,
      trustedRoots: [{ ...asReal, simulated: false }],
    });
    assert.equal(real.ok, true);
    assert.equal(real.simulated, false);
    const again = verify(quote, collateral); // the sim root, simulated: true
    assert.equal(again.ok, true);
    assert.equal(again.simulated, true);
    assert.equal(again.root, sim.trustedRoot.name);
  });

  it('a CRL signed by the right key but naming another issuer is refused', () => {
    const now = Date.now();
    const window = { thisUpdate: new Date(now - 3600e3), nextUpdate: new Date(now + 86400e3) };
    // PCK CRL signed by the PCK CA key, but claiming to be the root's CRL.
    const pckCrl = buildCrl({ issuer: ROOT_NAME, issuerKey: key('pck-ca'), ...window });
    const r1 = verify(quote, { ...collateral, pckCrl });
    assert.equal(firstFailure(r1)?.name, 'pck.crl');
    assert.match(firstFailure(r1)!.detail, /not issued and signed by/);
    // Root CRL signed by the root key, but naming the PCK CA.
    const rootCaCrl = buildCrl({ issuer: PCK_CA_NAME, issuerKey: key('root'), ...window });
    const r2 = verify(quote, { ...collateral, rootCaCrl });
    assert.equal(firstFailure(r2)?.name, 'root.crl');
    // Control: correctly named CRLs freshly signed with the same keys verify.
    const good = verify(quote, {
      ...collateral,
      pckCrl: buildCrl({ issuer: PCK_CA_NAME, issuerKey: key('pck-ca'), ...window }),
      rootCaCrl: buildCrl({ issuer: ROOT_NAME, issuerKey: key('root'), ...window }),
    });
    assert.equal(good.ok, true, JSON.stringify(firstFailure(good)));
  });

  it('QE report data must end in 32 zero bytes (re-signed by the PCK key)', () => {
    const q = Uint8Array.from(quote);
    const report = q.subarray(QE_REPORT_AT, QE_REPORT_AT + 384);
    report[320 + 40] = 0x01; // second half of the QE REPORTDATA
    const sig = sign('sha256', report, { key: key('pck'), dsaEncoding: 'ieee-p1363' });
    q.set(sig, QE_REPORT_AT + 384);
    const r = verify(q, collateral);
    assert.equal(r.ok, false);
    assert.equal(firstFailure(r)?.name, 'qe.report.data');
  });

  it('a collateral object changed after a first (failed) verification is not half-trusted', () => {
    // Forged TCB info: the platform's own level marked SWHardeningNeeded (signature now wrong).
    const authentic = collateral.tcbInfo;
    const forgedText = authentic.replace('"UpToDate"', '"SWHardeningNeeded"');
    assert.notEqual(forgedText, authentic);
    const obj: Collateral = { ...collateral, tcbInfo: forgedText };
    // First call fails early (outside the validity window), before any signature check.
    const early = verify(quote, obj, new Date('2000-01-01T00:00:00Z'));
    assert.equal(firstFailure(early)?.name, 'collateral.validity');
    // The caller then puts the authentic text back in the same object: the forged text parsed
    // by the first call must not be used with the authentic text's signature.
    obj.tcbInfo = authentic;
    const r = verify(quote, obj);
    assert.equal(r.ok, true, JSON.stringify(firstFailure(r)));
    assert.equal(r.tcbStatus, 'UpToDate');
    // And the other way round: authentic first, then the forged text in the same object.
    const obj2: Collateral = { ...collateral };
    assert.equal(verify(quote, obj2).ok, true);
    obj2.tcbInfo = forgedText;
    const r2 = verify(quote, obj2);
    assert.equal(firstFailure(r2)?.name, 'tcb.info.signature');
  });

  it('collateral text that breaks the JSON member scanner is a typed error, not a crash', () => {
    for (const tcbInfo of ['{"tcbInfo', '{"tcb\\', '{"tcbInfo":{"a":"\\']) {
      assert.throws(
        () => parseCollateral({ ...rawCollateralJson(collateral), tcb_info: tcbInfo }),
        (e: unknown) => isSealworkError(e) && e.code === 'COLLATERAL_INVALID',
        tcbInfo,
      );
    }
    // A URL-encoded (PCS header) issuer chain with a bad escape.
    assert.throws(
      () =>
        parseCollateral({
          ...rawCollateralJson(collateral),
          tcb_info_issuer_chain: '%2D%ZZ-----BEGIN CERTIFICATE-----',
        }),
      (e: unknown) => isSealworkError(e) && e.code === 'COLLATERAL_INVALID',
    );
  });

  it('a policy object changed after use is re-read (no stale cached policy)', () => {
    const r = verify(quote, collateral);
    const policy: PolicyInput = { mrenclave: 'a1'.repeat(32), allowSimulation: true };
    assert.equal(evaluatePolicy(r, policy).allowed, true);
    policy.mrenclave = 'b2'.repeat(32);
    const v = evaluatePolicy(r, policy);
    assert.equal(v.allowed, false);
    assert.equal(v.failed?.claim, 'mrenclave');
    policy.mrenclave = 'a1'.repeat(32);
    policy.allowSimulation = false;
    assert.equal(evaluatePolicy(r, policy).failed?.claim, 'simulation');
  });
});

function rawCollateralJson(c: Collateral): Record<string, string> {
  const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
  return {
    tcb_info: c.tcbInfo,
    tcb_info_signature: hex(c.tcbInfoSignature),
    tcb_info_issuer_chain: c.tcbInfoIssuerChain,
    qe_identity: c.qeIdentity,
    qe_identity_signature: hex(c.qeIdentitySignature),
    qe_identity_issuer_chain: c.qeIdentityIssuerChain,
  };
}
