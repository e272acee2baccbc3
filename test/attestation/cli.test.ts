import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { collateralToJson } from '../../src/attestation/index.js';
import { runCli, tempDir } from '../helpers/cli.js';
import { CASES, SKIP, VECTORS } from './vectors.js';

const MRE = 'ab'.repeat(32);
const RD = 'cd'.repeat(64);

describe('sealwork attest (CLI)', () => {
  let t: { dir: string; cleanup: () => void };
  let env: Record<string, string>;
  let quote: string;
  before(async () => {
    t = tempDir();
    env = { SEALWORK_HOME: join(t.dir, 'home') };
    quote = join(t.dir, 'q.bin');
    const r = await runCli(
      ['attest', 'sim-quote', '--mrenclave', MRE, '--report-data', RD, '--out', quote, '--json'],
      { env },
    );
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { quote: string; collateral: string; simulated: boolean };
    assert.equal(out.quote, quote);
    assert.equal(out.collateral, `${quote}.collateral.json`);
    assert.equal(out.simulated, true);
  });
  after(() => t.cleanup());

  it('refuses a simulated quote unless simulation is allowed (exit 3), accepts it with --allow-simulation', async () => {
    const no = await runCli(['attest', 'verify', quote], { env });
    assert.equal(no.code, 3);
    assert.match(no.stderr, /QUOTE_NOT_VERIFIED/);
    assert.match(no.stderr, /--allow-simulation/);
    const yes = await runCli(['attest', 'verify', quote, '--allow-simulation', '--json'], { env });
    assert.equal(yes.code, 0, yes.stderr);
    const r = JSON.parse(yes.stdout) as {
      ok: boolean;
      simulated: boolean;
      identity: { mrenclave: string; reportData: string };
    };
    assert.equal(r.ok, true);
    assert.equal(r.simulated, true);
    assert.equal(r.identity.mrenclave, MRE);
    assert.equal(r.identity.reportData, RD);
  });

  it('--policy: allowed exits 0, refused exits 4 with the failed claim', async () => {
    const ok = join(t.dir, 'ok.json');
    writeFileSync(ok, JSON.stringify({ mrenclave: [MRE], allowSimulation: true }));
    const r1 = await runCli(['attest', 'verify', quote, '--policy', ok], { env });
    assert.equal(r1.code, 0, r1.stderr);
    assert.match(r1.stdout, /verdict: +ALLOWED/);
    const bad = join(t.dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ mrenclave: ['ef'.repeat(32)], allowSimulation: true }));
    const r2 = await runCli(['attest', 'verify', quote, '--policy', bad, '--json'], { env });
    assert.equal(r2.code, 4);
    const e = JSON.parse(r2.stdout) as {
      error: { code: string; details: { verdict: { failed: { claim: string } } } };
    };
    assert.equal(e.error.code, 'POLICY_REFUSED');
    assert.equal(e.error.details.verdict.failed.claim, 'mrenclave');
    const invalid = join(t.dir, 'invalid.json');
    writeFileSync(invalid, JSON.stringify({ mrenclave: 'abc' }));
    const r3 = await runCli(['attest', 'verify', quote, '--policy', invalid], { env });
    assert.equal(r3.code, 1);
    assert.match(r3.stderr, /POLICY_INVALID.*mrenclave must be 32 bytes/);
  });

  it(
    'real vector: verifies at a pinned time, refuses at now; hex input accepted',
    { skip: SKIP },
    async () => {
      const c = CASES.find((x) => x.quote.endsWith('quotev3.hex'))!;
      const col = join(t.dir, 'v3.collateral.json');
      writeFileSync(col, JSON.stringify(collateralToJson(c.collateral())));
      const q = join(VECTORS, c.quote);
      const r = await runCli(['attest', 'verify', q, '--collateral', col, '--at', c.at], { env });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /tcb status: +SWHardeningNeeded +\[INTEL-SA-00615\]/);
      assert.match(r.stdout, /mrenclave: +a4f45c39dac622cb1dd32ddb35a52ec92db41d0fa88a1c911c49e59c534f61cd/);
      const late = await runCli(['attest', 'verify', q, '--collateral', col], { env });
      assert.equal(late.code, 3);
      assert.match(late.stdout, /FAIL collateral\.validity/);
    },
  );

  it('rejects bad input with typed errors', async () => {
    const r = await runCli(
      ['attest', 'sim-quote', '--mrenclave', 'zz', '--report-data', RD, '--out', join(t.dir, 'x')],
      { env },
    );
    assert.equal(r.code, 1);
    assert.match(r.stderr, /SIM_INVALID_INPUT/);
    const junk = join(t.dir, 'junk.bin');
    writeFileSync(junk, Buffer.from([3, 0, 2, 0, 0, 0, 0, 0, 1, 2]));
    const r2 = await runCli(['attest', 'verify', junk, '--collateral', `${quote}.collateral.json`], { env });
    assert.equal(r2.code, 1);
    assert.match(r2.stderr, /QUOTE_TRUNCATED|QUOTE_MALFORMED/);
    // No collateral beside the quote, none given: refused before the quote is read.
    const r3 = await runCli(['attest', 'verify', junk], { env });
    assert.equal(r3.code, 1, r3.stderr);
    assert.match(r3.stderr, /COLLATERAL_MISSING/);
    const r4 = await runCli(['attest', 'verify', junk, '--json'], { env });
    assert.equal(r4.code, 1, r4.stderr);
    assert.equal((JSON.parse(r4.stdout) as { error: { code: string } }).error.code, 'COLLATERAL_MISSING');
  });
});
