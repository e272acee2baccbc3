/**
 * Quote verification throughput: sealwork vs @phala/dcap-qvl on the same real SGX and TDX quotes
 * (../shared/attestation-vectors), cold (every cache dropped before each verification: full
 * chain, CRLs, collateral parsing and signatures every time) and warm (collateral and chains
 * cached), plus the simulated platform's warm path (what the SMS does per secret release).
 *
 *   node --import tsx bench/attest-verify.ts [seconds-per-measure, default 2]
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  attestSync,
  clearVerificationCaches,
  collateralToJson,
  openSimPlatform,
  parseCollateral,
  verifyQuoteSync,
  type Collateral,
} from '../src/attestation/index.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const V = join(ROOT, '..', 'shared', 'attestation-vectors');
const SECONDS = Number(process.argv[2] ?? 2);

interface QvlVerifier {
  verify(quote: Buffer, collateral: unknown, nowSecs: number): { status: string };
}
const qvl = createRequire(import.meta.url)('@phala/dcap-qvl') as {
  QuoteVerifier: { newProd(): QvlVerifier };
};

function rate(fn: () => void): number {
  for (let i = 0; i < 20; i++) fn(); // warm-up (JIT)
  const end = performance.now() + SECONDS * 1000;
  let n = 0;
  const t0 = performance.now();
  while (performance.now() < end) {
    fn();
    n++;
  }
  return (n / (performance.now() - t0)) * 1000;
}

const fmt = (x: number) => x.toFixed(0).padStart(8);

async function main(): Promise<void> {
  const rows: [string, number, number, number][] = [];
  if (existsSync(V)) {
    for (const [name, q, c] of [
      ['SGX v3 (phala sgx_quote)', 'phala-dcap-qvl/sgx_quote', 'phala-dcap-qvl/sgx_quote_collateral.json'],
      ['TDX v4 (phala tdx_quote)', 'phala-dcap-qvl/tdx_quote', 'phala-dcap-qvl/tdx_quote_collateral.json'],
    ] as const) {
      const quote = new Uint8Array(readFileSync(join(V, q)));
      const text = readFileSync(join(V, c), 'utf8');
      const collateral: Collateral = parseCollateral(text);
      const at = new Date('2025-06-20T00:00:00Z');
      const qvlCol = collateralToJson(collateral);
      const verifier = qvl.QuoteVerifier.newProd();
      const nowSecs = at.getTime() / 1000;
      if (!verifyQuoteSync({ quote, collateral, at }).ok) throw new Error(`${name}: does not verify`);
      verifier.verify(Buffer.from(quote), qvlCol, nowSecs);
      const qvlRate = rate(() => verifier.verify(Buffer.from(quote), qvlCol, nowSecs));
      const cold = rate(() => {
        clearVerificationCaches();
        verifyQuoteSync({ quote, collateral: parseCollateral(text), at });
      });
      const warm = rate(() => verifyQuoteSync({ quote, collateral, at }));
      rows.push([name, qvlRate, cold, warm]);
    }
  } else console.log(`(vectors absent at ${V}: real-quote rows skipped)`);

  console.log(`verifications per second (1 core, ${SECONDS}s per figure)\n`);
  console.log(
    `${'quote'.padEnd(28)} ${'dcap-qvl'.padStart(8)} ${'cold'.padStart(8)} ${'warm'.padStart(8)}  cold/qvl  warm/qvl`,
  );
  for (const [name, q, c, w] of rows)
    console.log(
      `${name.padEnd(28)} ${fmt(q)} ${fmt(c)} ${fmt(w)}  ${(c / q).toFixed(1).padStart(7)}x ${(w / q).toFixed(1).padStart(8)}x`,
    );

  const home = mkdtempSync(join(tmpdir(), 'sealwork-bench-'));
  try {
    const sim = await openSimPlatform(home);
    const policy = { mrenclave: ['ab'.repeat(32)], allowSimulation: true };
    let i = 0;
    const quotes = Array.from({ length: 256 }, () =>
      sim.quoteSync({ mrenclave: 'ab'.repeat(32), reportData: (i++).toString(16).padStart(128, '0') }),
    );
    let j = 0;
    const simRate = rate(() => {
      const { quote, collateral } = quotes[j++ % quotes.length]!;
      const r = attestSync({ quote, collateral, policy, simulationRoot: sim.trustedRoot });
      if (!r.verdict.allowed) throw new Error('refused');
    });
    const genRate = rate(() => sim.quoteSync({ mrenclave: 'ab'.repeat(32), reportData: 'cd'.repeat(64) }));
    console.log(`\nsimulated SGX v3, attest (verify + policy), warm: ${fmt(simRate)} /s`);
    console.log(`simulated SGX v3, quote generation:              ${fmt(genRate)} /s`);
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}

await main();
