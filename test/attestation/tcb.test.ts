/**
 * TCB-level matching and status convergence (Intel QVL TcbLevelCheck / TdxModuleCheck), and
 * revocation, end to end: custom collateral and CRLs are signed with the simulated platform's
 * own keys, so the verifier runs unmodified.
 */
import assert from 'node:assert/strict';
import { createPrivateKey, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  openSimPlatform,
  parseQuote,
  verifyQuoteSync,
  type Collateral,
  type SimPlatform,
} from '../../src/attestation/index.js';
import { parseCert, parsePckExtension } from '../../src/attestation/certs.js';
import { parseCollateral, parseQeIdentity, parseTcbInfo } from '../../src/attestation/collateral.js';
import { evaluateTcb } from '../../src/attestation/tcb.js';
import { buildCrl } from '../../src/attestation/x509build.js';
import { tempDir } from '../helpers/cli.js';
import { SKIP, quoteVec, textVec } from './vectors.js';

type Json = Record<string, unknown>;

describe('TCB evaluation end to end (collateral re-signed with the simulation keys)', () => {
  let home: { dir: string; cleanup: () => void };
  let sim: SimPlatform;
  let quote: Uint8Array;
  let base: Collateral;
  let tcbKey: ReturnType<typeof createPrivateKey>;
  before(async () => {
    home = tempDir();
    sim = await openSimPlatform(home.dir);
    const q = await sim.quote({ mrenclave: '42'.repeat(32), reportData: '00'.repeat(64) });
    quote = q.quote;
    base = q.collateral;
    tcbKey = createPrivateKey(readFileSync(join(sim.dir, 'tcb-signing.key')));
  });
  after(() => home.cleanup());

  const resign = (edit: { tcb?: (t: Json) => void; qe?: (q: Json) => void }): Collateral => {
    const t = JSON.parse(base.tcbInfo) as Json;
    const q = JSON.parse(base.qeIdentity) as Json;
    edit.tcb?.(t);
    edit.qe?.(q);
    const tt = JSON.stringify(t);
    const qt = JSON.stringify(q);
    const s = (x: string) =>
      new Uint8Array(sign('sha256', Buffer.from(x), { key: tcbKey, dsaEncoding: 'ieee-p1363' }));
    return { ...base, tcbInfo: tt, tcbInfoSignature: s(tt), qeIdentity: qt, qeIdentitySignature: s(qt) };
  };
  const run = (c: Collateral) => verifyQuoteSync({ quote, collateral: c, trustedRoots: [sim.trustedRoot] });
  const levels = (t: Json) => t.tcbLevels as Json[];
  const comps = (svns: number[]) => svns.map((svn) => ({ svn }));
  const PLATFORM = [14, 14, 3, 3, 255, 255, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0];

  it('re-signed unchanged collateral verifies (the harness is sound)', () => {
    assert.equal(run(resign({})).ok, true);
  });

  it('the first level (highest first) whose every component ≤ the PCK TCB wins', () => {
    const r = run(
      resign({
        tcb: (t) => {
          const higher = PLATFORM.map((v, i) => (i === 6 ? v + 1 : v));
          t.tcbLevels = [
            { tcb: { sgxtcbcomponents: comps(higher), pcesvn: 13 }, tcbStatus: 'UpToDate' },
            { tcb: { sgxtcbcomponents: comps(PLATFORM), pcesvn: 14 }, tcbStatus: 'UpToDate' },
            {
              tcb: { sgxtcbcomponents: comps(PLATFORM), pcesvn: 13 },
              tcbStatus: 'ConfigurationNeeded',
              advisoryIDs: ['SA-1'],
            },
            {
              tcb: { sgxtcbcomponents: comps(PLATFORM.map(() => 0)), pcesvn: 0 },
              tcbStatus: 'OutOfDate',
              advisoryIDs: ['SA-2'],
            },
          ];
        },
      }),
    );
    assert.equal(r.ok, true);
    assert.equal(r.tcbStatus, 'ConfigurationNeeded');
    assert.deepEqual(r.advisoryIds, ['SA-1']);
  });

  it('levels are taken in Intel QVL order (highest first), whatever order the JSON lists them in', () => {
    const r = run(
      resign({
        tcb: (t) => {
          const lower = PLATFORM.map((v, i) => (i === 6 ? v - 1 : v));
          t.tcbLevels = [
            { tcb: { sgxtcbcomponents: comps(PLATFORM.map(() => 0)), pcesvn: 0 }, tcbStatus: 'OutOfDate' },
            { tcb: { sgxtcbcomponents: comps(lower), pcesvn: 13 }, tcbStatus: 'SWHardeningNeeded' },
            { tcb: { sgxtcbcomponents: comps(PLATFORM), pcesvn: 12 }, tcbStatus: 'ConfigurationNeeded' },
            { tcb: { sgxtcbcomponents: comps(PLATFORM), pcesvn: 13 }, tcbStatus: 'UpToDate' },
          ];
        },
      }),
    );
    assert.equal(r.ok, true, JSON.stringify(r.checks.filter((c) => !c.ok)));
    assert.equal(r.tcbStatus, 'UpToDate');
    assert.deepEqual(r.advisoryIds, []);
  });

  it('no matching level: refused, status null', () => {
    const r = run(
      resign({
        tcb: (t) =>
          (t.tcbLevels = [levels(t)[0]!].map((l) => ({
            ...l,
            tcb: { sgxtcbcomponents: comps(PLATFORM.map((v) => v + 1)), pcesvn: 13 },
          }))),
      }),
    );
    assert.equal(r.ok, false);
    assert.equal(r.tcbStatus, null);
    assert.equal(r.checks.at(-1)?.name, 'tcb.level');
  });

  it('Revoked platform TCB is refused', () => {
    const r = run(resign({ tcb: (t) => (levels(t)[0]!.tcbStatus = 'Revoked') }));
    assert.equal(r.ok, false);
    assert.equal(r.tcbStatus, 'Revoked');
  });

  it('QE OutOfDate converges: ConfigurationNeeded → OutOfDateConfigurationNeeded, advisories merged', () => {
    const r = run(
      resign({
        tcb: (t) => {
          levels(t)[0]!.tcbStatus = 'ConfigurationNeeded';
          levels(t)[0]!.advisoryIDs = ['SA-P'];
        },
        qe: (q) => {
          q.tcbLevels = [
            { tcb: { isvsvn: 9 }, tcbStatus: 'UpToDate' },
            { tcb: { isvsvn: 8 }, tcbStatus: 'OutOfDate', advisoryIDs: ['SA-Q'] },
          ];
        },
      }),
    );
    assert.equal(r.ok, true);
    assert.equal(r.tcbStatus, 'OutOfDateConfigurationNeeded');
    assert.deepEqual(r.advisoryIds, ['SA-P', 'SA-Q']);
  });

  it('QE OutOfDate + SWHardeningNeeded → OutOfDate; QE Revoked → Revoked', () => {
    const withQe = (status: string) =>
      run(
        resign({
          tcb: (t) => (levels(t)[0]!.tcbStatus = 'SWHardeningNeeded'),
          qe: (q) => (q.tcbLevels = [{ tcb: { isvsvn: 8 }, tcbStatus: status }]),
        }),
      );
    assert.equal(withQe('OutOfDate').tcbStatus, 'OutOfDate');
    const revoked = withQe('Revoked');
    assert.equal(revoked.tcbStatus, 'Revoked');
    assert.equal(revoked.ok, false);
  });

  it('QE below every QE identity level, or a QE identity mismatch, is refused', () => {
    const low = run(resign({ qe: (q) => (q.tcbLevels = [{ tcb: { isvsvn: 9 }, tcbStatus: 'UpToDate' }]) }));
    assert.equal(low.ok, false);
    assert.match(low.checks.at(-1)!.detail, /below every QE identity/);
    const prod = run(resign({ qe: (q) => (q.isvprodid = 2) }));
    assert.equal(prod.checks.find((c) => !c.ok)?.name, 'qe.identity.match');
    const signer = run(resign({ qe: (q) => (q.mrsigner = '00'.repeat(32)) }));
    assert.equal(signer.checks.find((c) => !c.ok)?.name, 'qe.identity.match');
    const id = run(resign({ qe: (q) => (q.id = 'TD_QE') }));
    assert.equal(id.checks.find((c) => !c.ok)?.name, 'qe.identity.match');
  });

  it('FMSPC / PCEID / TEE mismatches in the TCB info are refused', () => {
    for (const edit of [
      (t: Json) => (t.fmspc = '00A067110000'),
      (t: Json) => (t.pceId = '0001'),
      (t: Json) => (t.id = 'TDX'),
    ]) {
      const r = run(resign({ tcb: edit }));
      assert.equal(r.checks.find((c) => !c.ok)?.name, 'tcb.info.match');
    }
  });

  it('a revoked PCK certificate (PCK CRL) or PCK CA (root CRL) is refused', () => {
    const pck = parseCert(readFileSync(join(sim.dir, 'pck.pem'), 'utf8'));
    const pckCa = parseCert(readFileSync(join(sim.dir, 'pck-ca.pem'), 'utf8'));
    const now = new Date();
    const thisUpdate = new Date(now.getTime() - 3600_000);
    const nextUpdate = new Date(now.getTime() + 86400_000);
    const pckCrl = buildCrl({
      issuer: { CN: 'sealwork Simulation SGX PCK Platform CA', O: 'sealwork (simulation, not Intel)' },
      issuerKey: createPrivateKey(readFileSync(join(sim.dir, 'pck-ca.key'))),
      thisUpdate,
      nextUpdate,
      revokedSerials: [
        Buffer.from(pck.serial.padStart(pck.serial.length + (pck.serial.length % 2), '0'), 'hex'),
      ],
    });
    const r1 = run({ ...base, pckCrl });
    assert.equal(r1.checks.find((c) => !c.ok)?.name, 'pck.crl');
    assert.match(r1.checks.find((c) => !c.ok)!.detail, /revoked/);
    const rootCrl = buildCrl({
      issuer: { CN: 'sealwork Simulation SGX Root CA', O: 'sealwork (simulation, not Intel)' },
      issuerKey: createPrivateKey(readFileSync(join(sim.dir, 'root.key'))),
      thisUpdate,
      nextUpdate,
      revokedSerials: [
        Buffer.from(pckCa.serial.padStart(pckCa.serial.length + (pckCa.serial.length % 2), '0'), 'hex'),
      ],
    });
    const r2 = run({ ...base, rootCaCrl: rootCrl });
    assert.equal(r2.checks.find((c) => !c.ok)?.name, 'root.crl');
    // A CRL signed by the wrong key is refused too.
    const forged = buildCrl({
      issuer: { CN: 'sealwork Simulation SGX Root CA', O: 'sealwork (simulation, not Intel)' },
      issuerKey: createPrivateKey(readFileSync(join(sim.dir, 'pck.key'))),
      thisUpdate,
      nextUpdate,
    });
    assert.equal(run({ ...base, rootCaCrl: forged }).checks.find((c) => !c.ok)?.name, 'root.crl');
  });
});

describe('TDX module identity (QVL TdxModuleCheck) on a real TDX quote', { skip: SKIP }, () => {
  // phala tdx_quote: TEE_TCB_SVN 06 01 03 …: module version 1 (TDX_01), module ISVSVN 6.
  const setup = () => {
    const q = parseQuote(quoteVec('phala-dcap-qvl/tdx_quote'));
    const c = parseCollateral(textVec('phala-dcap-qvl/tdx_quote_collateral.json'));
    const ext = parsePckExtension(parseCert(q.certification.pemChain![0]!).der);
    const t = JSON.parse(c.tcbInfo) as Json;
    return { q, c, ext, t };
  };
  const mods = (t: Json) => t.tdxModuleIdentities as Json[];

  it('module level UpToDate → platform status kept', () => {
    const { q, c, ext, t } = setup();
    const ev = evaluateTcb(q, ext, parseTcbInfo(JSON.stringify(t)), parseQeIdentity(c.qeIdentity));
    assert.equal(ev.status, 'UpToDate');
    assert.equal(ev.tdxModuleStatus, 'UpToDate');
  });

  it('module OutOfDate → OutOfDate, its advisories merged', () => {
    const { q, c, ext, t } = setup();
    const m = mods(t).find((x) => x.id === 'TDX_01')!;
    m.tcbLevels = [
      { tcb: { isvsvn: 7 }, tcbStatus: 'UpToDate' },
      { tcb: { isvsvn: 2 }, tcbStatus: 'OutOfDate', advisoryIDs: ['SA-M'] },
    ];
    const ev = evaluateTcb(q, ext, parseTcbInfo(JSON.stringify(t)), parseQeIdentity(c.qeIdentity));
    assert.equal(ev.status, 'OutOfDate');
    assert.deepEqual(ev.advisoryIds, ['SA-M']);
  });

  it('module ISVSVN below every level, or no TDX_01 identity → not supported', () => {
    const { q, c, ext, t } = setup();
    mods(t).find((x) => x.id === 'TDX_01')!.tcbLevels = [{ tcb: { isvsvn: 7 }, tcbStatus: 'UpToDate' }];
    assert.equal(
      evaluateTcb(q, ext, parseTcbInfo(JSON.stringify(t)), parseQeIdentity(c.qeIdentity)).ok,
      false,
    );
    const s2 = setup();
    s2.t.tdxModuleIdentities = mods(s2.t).filter((x) => x.id !== 'TDX_01');
    const ev = evaluateTcb(
      s2.q,
      s2.ext,
      parseTcbInfo(JSON.stringify(s2.t)),
      parseQeIdentity(s2.c.qeIdentity),
    );
    assert.equal(ev.ok, false);
    assert.match(ev.detail, /TDX_01/);
  });

  it('TDX components are compared from index 2 when the module version byte is set', () => {
    const { q, c, ext, t } = setup();
    // Raise tdxtcbcomponents[0] (module SVN, index 0) above the quote's: ignored since byte 1 > 0.
    for (const l of t.tcbLevels as { tcb: { tdxtcbcomponents: { svn: number }[] } }[])
      l.tcb.tdxtcbcomponents[0]!.svn = 200;
    assert.equal(
      evaluateTcb(q, ext, parseTcbInfo(JSON.stringify(t)), parseQeIdentity(c.qeIdentity)).status,
      'UpToDate',
    );
    // Raising index 2 above the quote's (03) on every level makes it unsupported.
    for (const l of t.tcbLevels as { tcb: { tdxtcbcomponents: { svn: number }[] } }[])
      l.tcb.tdxtcbcomponents[2]!.svn = 200;
    assert.equal(
      evaluateTcb(q, ext, parseTcbInfo(JSON.stringify(t)), parseQeIdentity(c.qeIdentity)).ok,
      false,
    );
  });
});

describe('TD relaunch (QVL TDRelaunchCheck) on a real TD report 1.5 quote', { skip: SKIP }, () => {
  // go-tdx-guest quote_v5_sample: TEE_TCB_SVN 0b 01 04 …, TEE_TCB_SVN2 0d 01 04 … (module 11 → 13).
  const run = (latestModuleSvn: number) => {
    const q = parseQuote(quoteVec('go-tdx-guest/quote_v5_sample.dat'));
    const c = parseCollateral(textVec('phala-dcap-qvl/tdx_quote_outdated_collateral.json'));
    const ext = parsePckExtension(parseCert(q.certification.pemChain![0]!).der);
    const t = JSON.parse(c.tcbInfo) as Json;
    (t.tdxModuleIdentities as Json[]).find((x) => x.id === 'TDX_01')!.tcbLevels = [
      { tcb: { isvsvn: latestModuleSvn }, tcbStatus: 'UpToDate' },
      { tcb: { isvsvn: 2 }, tcbStatus: 'OutOfDate', advisoryIDs: ['SA-M'] },
    ];
    return evaluateTcb(q, ext, parseTcbInfo(JSON.stringify(t)), parseQeIdentity(c.qeIdentity));
  };

  it('module out of date but TEE_TCB_SVN2 reaches the latest level → TDRelaunchAdvised', () => {
    const ev = run(12);
    assert.equal(ev.tdxModuleStatus, 'OutOfDate');
    assert.equal(ev.status, 'TDRelaunchAdvised');
    assert.equal(ev.ok, true);
  });

  it('TEE_TCB_SVN2 below the latest module level → OutOfDate', () => {
    assert.equal(run(14).status, 'OutOfDate');
  });

  it('module up to date → no relaunch involved', () => {
    assert.equal(run(11).status, 'UpToDate');
  });
});
