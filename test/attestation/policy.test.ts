import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  evaluatePolicy,
  parsePolicy,
  type PolicyInput,
  type SgxIdentity,
  type TdxIdentity,
  type VerificationResult,
} from '../../src/attestation/index.js';

const MRE = 'aa'.repeat(32);
const MRS = 'bb'.repeat(32);
const MRTD = 'cc'.repeat(48);

function sgxResult(over: Partial<SgxIdentity> = {}, r: Partial<VerificationResult> = {}): VerificationResult {
  return {
    ok: true,
    tee: 'sgx',
    quoteVersion: 3,
    identity: {
      tee: 'sgx',
      mrenclave: MRE,
      mrsigner: MRS,
      isvProdId: 1,
      isvSvn: 5,
      attributes: '0500000000000000e700000000000000',
      miscSelect: 0,
      cpuSvn: '00'.repeat(16),
      debug: false,
      reportData: '00'.repeat(64),
      ...over,
    },
    tcbStatus: 'UpToDate',
    advisoryIds: [],
    fmspc: '00a067110000',
    simulated: false,
    root: 'Intel SGX Root CA',
    checks: [{ name: 'quote.signature', ok: true, detail: '' }],
    verifiedAt: new Date().toISOString(),
    ...r,
  };
}

function tdxResult(over: Partial<TdxIdentity> = {}, r: Partial<VerificationResult> = {}): VerificationResult {
  const z48 = '00'.repeat(48);
  return {
    ...sgxResult({}, r),
    tee: 'tdx',
    quoteVersion: 4,
    identity: {
      tee: 'tdx',
      mrtd: MRTD,
      rtmr0: '01'.repeat(48),
      rtmr1: '02'.repeat(48),
      rtmr2: z48,
      rtmr3: z48,
      mrseam: 'dd'.repeat(48),
      mrsignerseam: z48,
      mrConfigId: z48,
      mrOwner: z48,
      mrOwnerConfig: z48,
      tdAttributes: '0000001000000000',
      xfam: 'e702060000000000',
      teeTcbSvn: '00'.repeat(16),
      debug: false,
      reportData: '00'.repeat(64),
      ...over,
    },
  };
}

interface Row {
  name: string;
  policy: PolicyInput;
  result: VerificationResult;
  allowed: boolean;
  failed?: string;
}

const rows: Row[] = [
  { name: 'mrenclave accepted', policy: { mrenclave: [MRE] }, result: sgxResult(), allowed: true },
  {
    name: 'mrenclave as a single string',
    policy: { mrenclave: MRE.toUpperCase() },
    result: sgxResult(),
    allowed: true,
  },
  {
    name: 'mrenclave refused',
    policy: { mrenclave: ['ee'.repeat(32)] },
    result: sgxResult(),
    allowed: false,
    failed: 'mrenclave',
  },
  {
    name: 'mrsigner+prodid+svn accepted',
    policy: { mrsigner: MRS, isvProdId: 1, minIsvSvn: 5 },
    result: sgxResult(),
    allowed: true,
  },
  {
    name: 'mrsigner refused',
    policy: { mrsigner: 'ee'.repeat(32), isvProdId: 1 },
    result: sgxResult(),
    allowed: false,
    failed: 'mrsigner',
  },
  {
    name: 'isvProdId refused',
    policy: { mrsigner: MRS, isvProdId: 2 },
    result: sgxResult(),
    allowed: false,
    failed: 'isvProdId',
  },
  {
    name: 'isvSvn below minimum',
    policy: { mrsigner: MRS, isvProdId: 1, minIsvSvn: 6 },
    result: sgxResult(),
    allowed: false,
    failed: 'isvSvn',
  },
  {
    name: 'debug refused by default',
    policy: { mrenclave: MRE },
    result: sgxResult({ debug: true }),
    allowed: false,
    failed: 'debug',
  },
  {
    name: 'debug allowed explicitly',
    policy: { mrenclave: MRE, allowDebug: true },
    result: sgxResult({ debug: true }),
    allowed: true,
  },
  {
    name: 'simulation refused by default',
    policy: { mrenclave: MRE },
    result: sgxResult({}, { simulated: true }),
    allowed: false,
    failed: 'simulation',
  },
  {
    name: 'simulation allowed explicitly',
    policy: { mrenclave: MRE, allowSimulation: true },
    result: sgxResult({}, { simulated: true }),
    allowed: true,
  },
  {
    name: 'TCB status not UpToDate refused by default',
    policy: { mrenclave: MRE },
    result: sgxResult({}, { tcbStatus: 'SWHardeningNeeded', advisoryIds: ['INTEL-SA-00615'] }),
    allowed: false,
    failed: 'tcbStatus',
  },
  {
    name: 'accepted status but unaccepted advisory',
    policy: { mrenclave: MRE, acceptedTcbStatuses: ['UpToDate', 'SWHardeningNeeded'] },
    result: sgxResult({}, { tcbStatus: 'SWHardeningNeeded', advisoryIds: ['INTEL-SA-00615'] }),
    allowed: false,
    failed: 'advisories',
  },
  {
    name: 'accepted status and advisory',
    policy: {
      mrenclave: MRE,
      acceptedTcbStatuses: ['UpToDate', 'SWHardeningNeeded'],
      acceptedAdvisories: ['INTEL-SA-00615'],
    },
    result: sgxResult({}, { tcbStatus: 'SWHardeningNeeded', advisoryIds: ['INTEL-SA-00615'] }),
    allowed: true,
  },
  {
    name: 'unverified quote refused whatever the policy says',
    policy: { mrenclave: MRE, allowDebug: true, allowSimulation: true },
    result: sgxResult(
      {},
      { ok: false, tcbStatus: null, checks: [{ name: 'quote.signature', ok: false, detail: 'bad' }] },
    ),
    allowed: false,
    failed: 'verified',
  },
  {
    name: 'TDX mrtd + rtmr accepted',
    policy: { mrtd: MRTD, rtmr0: '01'.repeat(48) },
    result: tdxResult(),
    allowed: true,
  },
  {
    name: 'TDX mrtd refused',
    policy: { mrtd: 'ee'.repeat(48) },
    result: tdxResult(),
    allowed: false,
    failed: 'mrtd',
  },
  {
    name: 'TDX rtmr refused',
    policy: { mrtd: MRTD, rtmr1: '03'.repeat(48) },
    result: tdxResult(),
    allowed: false,
    failed: 'rtmr1',
  },
  {
    name: 'TDX mrseam refused',
    policy: { mrtd: MRTD, mrseam: 'ee'.repeat(48) },
    result: tdxResult(),
    allowed: false,
    failed: 'mrseam',
  },
  {
    name: 'TDX debug TD refused',
    policy: { mrtd: MRTD },
    result: tdxResult({ debug: true }),
    allowed: false,
    failed: 'debug',
  },
  {
    name: 'SGX policy on a TDX quote',
    policy: { mrenclave: MRE },
    result: tdxResult(),
    allowed: false,
    failed: 'tee',
  },
  {
    name: 'TDX policy on an SGX quote',
    policy: { mrtd: MRTD },
    result: sgxResult(),
    allowed: false,
    failed: 'tee',
  },
];

describe('policy table', () => {
  for (const r of rows) {
    it(r.name, () => {
      const v = evaluatePolicy(r.result, r.policy);
      assert.equal(v.allowed, r.allowed, JSON.stringify(v.claims.filter((c) => !c.ok)));
      assert.equal(v.failed?.claim, r.failed);
      assert.equal(v.simulated, r.result.simulated);
      if (v.failed) {
        assert.ok(v.failed.reason.length > 10);
        assert.ok('expected' in v.failed && 'found' in v.failed);
      }
      // every claim is listed with a reason
      assert.ok(v.claims.length >= 5);
      for (const c of v.claims) assert.ok(c.reason.length > 0, c.claim);
    });
  }
});

describe('parsePolicy', () => {
  it('applies the deny-by-default defaults', () => {
    const p = parsePolicy({ mrenclave: MRE });
    assert.equal(p.allowDebug, false);
    assert.equal(p.allowSimulation, false);
    assert.deepEqual(p.acceptedTcbStatuses, ['UpToDate']);
    assert.deepEqual(p.acceptedAdvisories, []);
  });

  const bad: [string, unknown, RegExp][] = [
    ['not JSON', '{', /not valid JSON/],
    ['no enclave named', {}, /names no enclave/],
    ['short mrenclave', { mrenclave: 'abcd' }, /mrenclave must be 32 bytes/],
    ['mrsigner without prodid', { mrsigner: MRS }, /isvProdId is required/],
    ['unknown key (typo)', { mrenclave: MRE, allowdebug: true }, /allowdebug/],
    ['unknown status', { mrenclave: MRE, acceptedTcbStatuses: ['Fine'] }, /acceptedTcbStatuses/],
    ['mixing SGX and TDX', { mrenclave: MRE, mrtd: MRTD }, /not both/],
    ['wrong type', { mrenclave: MRE, allowDebug: 'yes' }, /allowDebug/],
  ];
  for (const [name, input, re] of bad)
    it(`refuses: ${name}`, () => {
      assert.throws(
        () => parsePolicy(input),
        (e: unknown) => (e as { code?: string }).code === 'POLICY_INVALID' && re.test((e as Error).message),
      );
    });
});
