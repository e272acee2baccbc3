/**
 * Mutations: any change to a signed byte, a signature, the QE report, the certificate chain or the
 * collateral must make verification fail (a parse error or ok: false) — never pass.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isSealworkError } from '../../src/errors.js';
import { parseQuote, verifyQuoteSync, type Collateral, type Quote } from '../../src/attestation/index.js';
import { CASES, SKIP, quoteVec } from './vectors.js';

function fails(quote: Uint8Array, collateral: Collateral | (() => Collateral), at: Date): boolean {
  try {
    const c = typeof collateral === 'function' ? collateral() : collateral;
    return !verifyQuoteSync({ quote, collateral: c, at }).ok;
  } catch (e) {
    if (isSealworkError(e)) return true;
    throw e; // anything else is a bug (a crash, not a typed refusal)
  }
}

function flipped(b: Uint8Array, i: number, mask = 0x01): Uint8Array {
  const c = Uint8Array.from(b);
  c[i] = c[i]! ^ mask;
  return c;
}

/** Offsets of the quote's parts inside its bytes. */
function layout(q: Quote, raw: Uint8Array) {
  const off = (sub: Uint8Array) => sub.byteOffset - raw.byteOffset;
  return {
    signed: [0, q.signedData.length] as const,
    signature: [off(q.signature), 64] as const,
    attKey: [off(q.attestationKey), 64] as const,
    qeReport: [off(q.qeReport.raw), 384] as const,
    qeReportSig: [off(q.qeReportSignature), 64] as const,
    qeAuth: [off(q.qeAuthData), q.qeAuthData.length] as const,
    certData: [off(q.certification.data), q.certification.data.length] as const,
  };
}

for (const idx of [0, 1]) {
  describe(`mutations of ${CASES[idx]?.name ?? 'vector'}`, { skip: SKIP }, () => {
    const c = CASES[idx]!;
    const at = new Date(c.at);
    const raw = () => quoteVec(c.quote).subarray(0, parseQuote(quoteVec(c.quote)).length);

    it('the unmodified quote verifies', () => {
      assert.equal(verifyQuoteSync({ quote: raw(), collateral: c.collateral(), at }).ok, true);
    });

    for (const part of ['signed', 'signature', 'attKey', 'qeReport', 'qeReportSig', 'qeAuth'] as const) {
      it(`flipping any byte of ${part} fails`, () => {
        const q = raw();
        const collateral = c.collateral();
        const [start, len] = layout(parseQuote(q), q)[part];
        assert.ok(len > 0);
        for (let i = start; i < start + len; i++)
          assert.ok(fails(flipped(q, i), collateral, at), `${part} byte ${i - start}`);
      });
    }

    it('changing any DER byte of a certificate in the PCK chain fails', () => {
      const q = raw();
      const collateral = c.collateral();
      const parsed = parseQuote(q);
      const [start] = layout(parsed, q).certData;
      const text = Buffer.from(parsed.certification.data).toString('latin1');
      let tested = 0;
      for (const pem of parsed.certification.pemChain!) {
        const pemAt = start + text.indexOf(pem);
        const b64 = pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');
        const der = Buffer.from(b64, 'base64');
        for (let i = 0; i < der.length; i += 3) {
          const bad = Buffer.from(der);
          bad[i] = bad[i]! ^ 0x01;
          const badB64 = bad.toString('base64').replace(/(.{64})/g, '$1\n');
          const badPem = `-----BEGIN CERTIFICATE-----\n${badB64.trimEnd()}\n-----END CERTIFICATE-----`;
          if (badPem.length !== pem.length) continue; // line layout differs: skip (same length keeps offsets)
          const mutated = Uint8Array.from(q);
          mutated.set(Buffer.from(badPem, 'latin1'), pemAt);
          assert.ok(fails(mutated, collateral, at), `cert byte ${i}`);
          tested++;
        }
      }
      assert.ok(tested > 300, `tested ${tested} mutations`);
    });

    it('changing the TCB info, QE identity, their signatures or the CRLs fails', () => {
      const base = c.collateral();
      for (let i = 0; i < 64; i++) {
        assert.ok(
          fails(raw(), { ...base, tcbInfoSignature: flipped(base.tcbInfoSignature, i) }, at),
          `tcb sig ${i}`,
        );
        assert.ok(
          fails(raw(), { ...base, qeIdentitySignature: flipped(base.qeIdentitySignature, i) }, at),
          `qe sig ${i}`,
        );
      }
      for (let i = 0; i < base.tcbInfo.length; i += 7) {
        const t =
          base.tcbInfo.slice(0, i) +
          String.fromCharCode(base.tcbInfo.charCodeAt(i) ^ 0x01) +
          base.tcbInfo.slice(i + 1);
        assert.ok(fails(raw(), { ...base, tcbInfo: t }, at), `tcb info char ${i}`);
      }
      for (let i = 0; i < base.qeIdentity.length; i += 5) {
        const t =
          base.qeIdentity.slice(0, i) +
          String.fromCharCode(base.qeIdentity.charCodeAt(i) ^ 0x01) +
          base.qeIdentity.slice(i + 1);
        assert.ok(fails(raw(), { ...base, qeIdentity: t }, at), `qe identity char ${i}`);
      }
      for (let i = 0; i < base.rootCaCrl!.length; i += 2)
        assert.ok(
          fails(raw(), { ...base, rootCaCrl: flipped(base.rootCaCrl!, i) }, at),
          `root crl byte ${i}`,
        );
      for (let i = 0; i < base.pckCrl!.length; i += 2)
        assert.ok(fails(raw(), { ...base, pckCrl: flipped(base.pckCrl!, i) }, at), `pck crl byte ${i}`);
    });
  });
}
