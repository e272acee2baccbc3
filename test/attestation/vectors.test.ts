import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  parseCollateral,
  parseQuote,
  verifyQuote,
  type Collateral,
  type EnclaveReport,
  type TdReport,
} from '../../src/attestation/index.js';
import { CASES, SKIP, intelSample, parsedExpected, quoteVec, readVec, textVec } from './vectors.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('real DCAP vectors: parsing', { skip: SKIP }, () => {
  it('every quote in parsed-expected.json parses to the expected fields', () => {
    const all = parsedExpected();
    assert.ok(Object.keys(all).length >= 13);
    for (const [file, e] of Object.entries(all)) {
      const q = parseQuote(quoteVec(file));
      const m = `${file}`;
      assert.equal(q.header.version, e.version, m);
      assert.equal(`0x${q.header.teeType.toString(16)}`, e.tee_type, m);
      assert.equal(q.length, e.quote_len, m);
      assert.equal(q.header.qeSvn, e.qe_svn, m);
      assert.equal(q.header.pceSvn, e.pce_svn, m);
      assert.equal(hex(q.header.qeVendorId), e.qe_vendor_id, m);
      assert.equal(q.signedData.length, e.signed_len, m);
      assert.equal(q.certification.type, e.cert_data_type, m);
      assert.equal(q.qeAuthData.length, e.qe_auth_data_len, m);
      assert.equal(hex(q.attestationKey), e.attest_key, m);
      assert.equal(q.body.debug, e.debug, m);
      assert.equal(hex(q.body.reportData), e.report_data, m);
      assert.equal(hex(q.qeReport.mrEnclave), e.qe_report.mrenclave, m);
      assert.equal(hex(q.qeReport.mrSigner), e.qe_report.mrsigner, m);
      assert.equal(q.qeReport.isvProdId, e.qe_report.isv_prod_id, m);
      assert.equal(q.qeReport.isvSvn, e.qe_report.isv_svn, m);
      if (e.body_type !== undefined) assert.equal(q.bodyType, e.body_type, m);
      if (q.body.kind === 'sgx') {
        const b: EnclaveReport = q.body;
        assert.equal(hex(b.mrEnclave), e.mrenclave, m);
        assert.equal(hex(b.mrSigner), e.mrsigner, m);
        assert.equal(b.isvProdId, e.isv_prod_id, m);
        assert.equal(b.isvSvn, e.isv_svn, m);
        assert.equal(hex(b.attributes), e.attributes, m);
        assert.equal(hex(b.cpuSvn), e.cpu_svn, m);
        assert.equal(b.miscSelect, e.miscselect, m);
      } else {
        const t: TdReport = q.body;
        assert.equal(hex(t.mrTd), e.mr_td, m);
        assert.deepEqual(t.rtmr.map(hex), e.rtmr, m);
        assert.equal(hex(t.mrSeam), e.mr_seam, m);
        assert.equal(hex(t.teeTcbSvn), e.tee_tcb_svn, m);
        assert.equal(hex(t.tdAttributes), e.td_attributes, m);
        assert.equal(hex(t.xfam), e.xfam, m);
        assert.equal(hex(t.mrConfigId), e.mr_config_id, m);
        assert.equal(hex(t.mrOwner), e.mr_owner, m);
      }
      if (e.cert_data_type === 5) assert.ok((q.certification.pemChain?.length ?? 0) >= 2, m);
    }
  });
});

describe('real DCAP vectors: verification at a pinned time', { skip: SKIP }, () => {
  for (const c of CASES) {
    it(`${c.name}: ${c.status ?? 'no TCB level'} ${c.advisories.join(',')}`, async () => {
      const r = await verifyQuote({
        quote: quoteVec(c.quote),
        collateral: c.collateral(),
        at: new Date(c.at),
      });
      const failed = r.checks.filter((x) => !x.ok);
      assert.equal(r.ok, c.ok, JSON.stringify(failed));
      assert.equal(r.tcbStatus, c.status);
      assert.deepEqual(r.advisoryIds, c.advisories);
      assert.equal(r.fmspc, c.fmspc);
      assert.equal(r.simulated, false);
      assert.equal(r.root, 'Intel SGX Root CA');
      if (c.ok) assert.equal(failed.length, 0);
      else
        assert.deepEqual(
          failed.map((x) => x.name),
          ['tcb.level'],
        );
      for (const name of [
        'pck.chain',
        'root.crl',
        'pck.crl',
        'tcb.info.signature',
        'qe.identity.signature',
        'qe.report.signature',
        'qe.report.data',
        'quote.signature',
      ])
        assert.ok(
          r.checks.some((x) => x.name === name && x.ok),
          name,
        );
    });
  }

  it('expired collateral fails at "now"', async () => {
    for (const c of CASES) {
      const r = await verifyQuote({ quote: quoteVec(c.quote), collateral: c.collateral() });
      assert.equal(r.ok, false, c.name);
      assert.equal(r.checks.find((x) => !x.ok)?.name, 'collateral.validity', c.name);
    }
  });

  it('collateral not yet issued fails', async () => {
    const c = CASES[0]!;
    const r = await verifyQuote({
      quote: quoteVec(c.quote),
      collateral: c.collateral(),
      at: new Date('2025-06-01T00:00:00Z'),
    });
    assert.equal(r.checks.find((x) => !x.ok)?.name, 'collateral.validity');
  });

  it('a chain under another root fails; it verifies only when that root is trusted explicitly', async () => {
    const quote = quoteVec(intelSample.quote);
    const collateral = intelSample.collateral();
    const at = new Date(intelSample.at);
    const r = await verifyQuote({ quote, collateral, at });
    assert.equal(r.ok, false);
    assert.equal(r.checks.find((x) => !x.ok)?.name, 'pck.chain');
    const ok = await verifyQuote({ quote, collateral, at, trustedRoots: [intelSample.root()] });
    assert.equal(ok.ok, true, JSON.stringify(ok.checks.filter((x) => !x.ok)));
    assert.equal(ok.root, 'Intel QVL sample test root');
    assert.equal(ok.tcbStatus, 'UpToDate');
    // Real quote, collateral signed under the other root: anchors differ → refused.
    const mixed = await verifyQuote({
      quote: quoteVec(CASES[0]!.quote),
      collateral: { ...CASES[0]!.collateral(), tcbInfoIssuerChain: collateral.tcbInfoIssuerChain },
      at: new Date(CASES[0]!.at),
      trustedRoots: [intelSample.root()],
    });
    assert.equal(mixed.ok, false);
  });

  it('collateral for another platform is refused (FMSPC / TEE mismatch)', async () => {
    const sgx = CASES[0]!;
    const tdxCollateral = CASES[1]!.collateral();
    const r = await verifyQuote({
      quote: quoteVec(sgx.quote),
      collateral: tdxCollateral,
      at: new Date(sgx.at),
    });
    assert.equal(r.ok, false);
    assert.ok(r.checks.some((x) => !x.ok && (x.name === 'tcb.info.match' || x.name === 'pck.crl')));
  });

  it('missing CRLs are refused', async () => {
    const c = CASES[0]!;
    const { rootCaCrl: _r, ...noRoot } = c.collateral();
    const r1 = await verifyQuote({
      quote: quoteVec(c.quote),
      collateral: noRoot as Collateral,
      at: new Date(c.at),
    });
    assert.equal(r1.checks.find((x) => !x.ok)?.name, 'root.crl');
    const { pckCrl: _p, ...noPck } = c.collateral();
    const r2 = await verifyQuote({
      quote: quoteVec(c.quote),
      collateral: noPck as Collateral,
      at: new Date(c.at),
    });
    assert.equal(r2.checks.find((x) => !x.ok)?.name, 'pck.crl');
  });

  it('a PCK CRL from the wrong CA is refused', async () => {
    const c = CASES[0]!; // Processor CA PCK
    const r = await verifyQuote({
      quote: quoteVec(c.quote),
      collateral: { ...c.collateral(), pckCrl: CASES[1]!.collateral().pckCrl }, // Platform CA CRL
      at: new Date(c.at),
    });
    assert.equal(r.checks.find((x) => !x.ok)?.name, 'pck.crl');
  });
});

describe('collateral formats', { skip: SKIP }, () => {
  it('PCS response text, PCS response object and *_collateral.json give the same signed bytes', () => {
    const text = textVec('automata-dcap-attestation/evm_0825_sgx_tcbinfov3_00606a000000.json');
    const chain = (
      JSON.parse(textVec('phala-dcap-qvl/sgx_quote_collateral.json')) as { tcb_info_issuer_chain: string }
    ).tcb_info_issuer_chain;
    const qe = textVec('automata-dcap-attestation/evm_0825_sgx_qeidentity_v4.json');
    const fromText = parseCollateral({ tcbInfo: text, qeIdentity: qe, tcbInfoIssuerChain: chain });
    const fromObject = parseCollateral({
      tcbInfo: JSON.parse(text),
      qeIdentity: JSON.parse(qe),
      tcbInfoIssuerChain: chain,
    });
    assert.equal(fromText.tcbInfo, fromObject.tcbInfo);
    assert.ok(fromText.tcbInfo.startsWith('{"id":"SGX"'));
    assert.equal(hex(fromText.tcbInfoSignature), (JSON.parse(text) as { signature: string }).signature);
    // dcap-qvl shape, snake_case with hex, round-trips.
    const phala = parseCollateral(textVec('phala-dcap-qvl/sgx_quote_collateral.json'));
    assert.equal(phala.rootCaCrl?.[0], 0x30);
    assert.equal(phala.tcbInfoSignature.length, 64);
  });

  it('rejects broken collateral with COLLATERAL_INVALID', () => {
    assert.throws(() => parseCollateral('{'), { code: 'COLLATERAL_INVALID' });
    assert.throws(() => parseCollateral({ tcb_info: '{}' }), { code: 'COLLATERAL_INVALID' });
    const c = JSON.parse(textVec('phala-dcap-qvl/sgx_quote_collateral.json')) as Record<string, string>;
    assert.throws(() => parseCollateral({ ...c, tcb_info_signature: 'abcd' }), {
      code: 'COLLATERAL_INVALID',
    });
    assert.throws(
      () => parseCollateral({ ...c, tcb_info: c.tcb_info!.replace('"fmspc"', '"fmspx"') }),
      /fmspc/,
    );
    assert.throws(() => parseCollateral({ ...c, tcb_info_issuer_chain: 'nope' }), {
      code: 'COLLATERAL_INVALID',
    });
  });

  it('reads CRLs given as DER bytes, hex and PEM', () => {
    const der = readVec('automata-dcap-attestation/solana_intel_root_ca_crl.der');
    const c = JSON.parse(textVec('phala-dcap-qvl/sgx_quote_collateral.json')) as Record<string, string>;
    const pem = `-----BEGIN X509 CRL-----\n${der.toString('base64')}\n-----END X509 CRL-----\n`;
    for (const v of [der, der.toString('hex'), pem])
      assert.deepEqual(Buffer.from(parseCollateral({ ...c, root_ca_crl: v }).rootCaCrl!), der);
  });
});
