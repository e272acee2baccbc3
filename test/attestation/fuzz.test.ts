/**
 * Bounded fuzz of the quote parser: random bytes, truncations and mutated real/simulated quotes.
 * The parser must return a Quote or throw a SealworkError — never another exception, never hang.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { isSealworkError } from '../../src/errors.js';
import {
  openSimPlatform,
  parseQuote,
  parseCollateral,
  verifyQuoteSync,
  type Collateral,
  type TrustedRoot,
} from '../../src/attestation/index.js';
import { parseCrl, parsePckExtension } from '../../src/attestation/certs.js';
import { tempDir } from '../helpers/cli.js';
import { HAVE_VECTORS, quoteVec, textVec } from './vectors.js';

/** Small deterministic PRNG (xorshift32) so failures reproduce. */
function rng(seed: number) {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 0x100000000;
  };
}

function tryParse(b: Uint8Array, label: string): void {
  try {
    const q = parseQuote(b);
    assert.ok(q.length <= b.length, label);
    assert.ok(
      q.signedData.length === 432 || q.signedData.length === 632 || q.signedData.length === 702,
      label,
    );
  } catch (e) {
    if (!isSealworkError(e)) throw new Error(`${label}: non-typed error ${(e as Error)?.stack}`);
    assert.match(e.code, /^(QUOTE_MALFORMED|QUOTE_TRUNCATED|QUOTE_UNSUPPORTED|DER_MALFORMED)$/, label);
  }
}

describe('quote parser fuzz (bounded)', () => {
  const seeds: Uint8Array[] = [];
  let home: { dir: string; cleanup: () => void };
  let simCollateral: Collateral;
  let simRoot: TrustedRoot;
  before(async () => {
    home = tempDir();
    const sim = await openSimPlatform(home.dir);
    const first = await sim.quote({ mrenclave: '01'.repeat(32), reportData: '02'.repeat(64) });
    seeds.push(first.quote);
    simCollateral = first.collateral;
    simRoot = sim.trustedRoot;
    if (HAVE_VECTORS)
      for (const f of [
        'phala-dcap-qvl/sgx_quote',
        'phala-dcap-qvl/tdx_quote',
        'automata-dcap-attestation/quotev5.dat',
      ])
        seeds.push(quoteVec(f));
  });
  after(() => home.cleanup());

  it('random inputs', () => {
    const r = rng(1);
    for (let n = 0; n < 3000; n++) {
      const len = Math.floor(r() * 1200);
      const b = new Uint8Array(len);
      for (let i = 0; i < len; i++) b[i] = Math.floor(r() * 256);
      // Half the time, make the header plausible so the parser goes deeper.
      if (len >= 8 && r() < 0.5) {
        b[0] = 3 + Math.floor(r() * 3);
        b[1] = 0;
        b[2] = 2;
        b[3] = 0;
        b[4] = r() < 0.5 ? 0 : 0x81;
        b[5] = b[6] = b[7] = 0;
      }
      tryParse(b, `random #${n}`);
    }
  });

  it('every truncation of each seed', () => {
    for (const s of seeds)
      for (let l = 0; l < s.length; l += 1) tryParse(s.subarray(0, l), `truncated to ${l}`);
  });

  it('mutated seeds (length fields, random bytes, splices)', () => {
    const r = rng(7);
    for (const s of seeds) {
      for (let n = 0; n < 1500; n++) {
        const b = Uint8Array.from(s);
        const k = 1 + Math.floor(r() * 4);
        for (let j = 0; j < k; j++) {
          const choice = r();
          // Bias towards the length fields at 432/436, and the v4 type-6 header.
          const i =
            choice < 0.3
              ? 432 + Math.floor(r() * 8)
              : choice < 0.4
                ? 564 + Math.floor(r() * 8)
                : Math.floor(r() * b.length);
          b[i] = Math.floor(r() * 256);
        }
        tryParse(b, `mutation #${n}`);
      }
    }
  });

  it('DER readers (CRL, PCK extension) on mutated input: a result or a typed error', () => {
    const r = rng(11);
    const crl = simCollateral.rootCaCrl!;
    const pckDer = Buffer.from(
      parseQuote(seeds[0]!)
        .certification.pemChain![0]!.replace(/-----[^-]+-----/g, '')
        .replace(/\s+/g, ''),
      'base64',
    );
    const mutate = (src: Uint8Array) => {
      const b = Uint8Array.from(src);
      for (let j = 0, k = 1 + Math.floor(r() * 3); j < k; j++)
        b[Math.floor(r() * b.length)] = Math.floor(r() * 256);
      return r() < 0.3 ? b.subarray(0, Math.floor(r() * b.length)) : b;
    };
    for (let n = 0; n < 1500; n++) {
      for (const [what, f] of [
        ['crl', () => parseCrl(mutate(crl))],
        ['pck extension', () => parsePckExtension(mutate(pckDer))],
      ] as const) {
        try {
          f();
        } catch (e) {
          if (!isSealworkError(e)) throw new Error(`${what} mutation ${n}: non-typed ${(e as Error)?.stack}`);
        }
      }
    }
  });

  it('the verifier on mutated quotes: no changed byte of the quote still verifies', () => {
    // Every byte of the quote, flipped once (a random non-zero XOR). The signed region is covered by
    // the quote signature, the QE report and auth data by the PCK signature and the report-data
    // binding, the lengths by the parser; the PEM chain in the certification data is covered only
    // by the certificates' own signatures, so its text must be parsed strictly (quote.ts
    // certChainFrom): before that, 61 of 400 flips (in the chain's copy of the root, a line break,
    // the NUL terminator) dropped a block or a byte unnoticed and the quote still verified.
    const r = rng(5);
    const s = seeds[0]!;
    assert.equal(parseQuote(s).trailingBytes, 0, 'the simulated quote has no padding');
    const verified: number[] = [];
    for (let at = 0; at < s.length; at++) {
      const b = Uint8Array.from(s);
      b[at] = b[at]! ^ (1 + Math.floor(r() * 255));
      try {
        if (verifyQuoteSync({ quote: b, collateral: simCollateral, trustedRoots: [simRoot] }).ok)
          verified.push(at);
      } catch (e) {
        if (!isSealworkError(e))
          throw new Error(`verify mutation at ${at}: non-typed ${(e as Error)?.stack}`);
      }
    }
    assert.deepEqual(verified, [], `offsets whose mutation still verified: ${verified.join(', ')}`);
    assert.equal(
      verifyQuoteSync({ quote: s, collateral: simCollateral, trustedRoots: [simRoot] }).ok,
      true,
      'the unmutated quote verifies',
    );
  });

  it('the type-5 PEM chain is parsed strictly: a damaged or extra block, a stray byte is malformed', () => {
    const s = seeds[0]!;
    const q = parseQuote(s);
    const text = Buffer.from(q.certification.data).toString('latin1');
    const at = (needle: string, from = 0) => {
      const i = text.indexOf(needle, from);
      assert.ok(i >= 0, needle);
      return s.length - q.certification.data.length + i;
    };
    const lastBlock = text.lastIndexOf('-----BEGIN CERTIFICATE-----');
    const cases: [string, number, number][] = [
      // [what, offset in the quote, new byte]
      ['a non-base64 character in the last block', at('MII', lastBlock) + 5, 0x40],
      ['a vertical tab for a line break between lines', at('\n', lastBlock + 30), 0x0b],
      ['a broken BEGIN marker of the last block', lastBlock + s.length - q.certification.data.length, 0x2e],
      ['a non-NUL terminator', s.length - 1, 0x01],
    ];
    for (const [what, offset, value] of cases) {
      const b = Uint8Array.from(s);
      b[offset] = value;
      assert.throws(() => parseQuote(b), { code: 'QUOTE_MALFORMED' }, what);
    }
  });

  it('hex text and garbage collateral are refused with typed errors', () => {
    assert.throws(() => parseCollateral('null'), { code: 'COLLATERAL_INVALID' });
    assert.throws(() => parseCollateral([1, 2]), { code: 'COLLATERAL_INVALID' });
    if (!HAVE_VECTORS) return;
    const text = textVec('phala-dcap-qvl/sgx_quote_collateral.json');
    const r = rng(3);
    for (let n = 0; n < 200; n++) {
      const i = Math.floor(r() * text.length);
      const t = text.slice(0, i) + String.fromCharCode(32 + Math.floor(r() * 90)) + text.slice(i + 1);
      try {
        parseCollateral(t);
      } catch (e) {
        assert.ok(isSealworkError(e), `collateral mutation ${n}: ${(e as Error).message}`);
      }
    }
  });
});
