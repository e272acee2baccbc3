/** `sealwork attest`: verify DCAP quotes against collateral and a policy, make simulated quotes. */
import type { Command } from 'commander';
import { SealworkError } from '../../errors.js';
import type { VerifyQuoteFileReturnType } from '../../sdk/attestation/index.js';
import { action } from '../context.js';

const sdk = () => import('../../sdk/attestation/index.js');

function human(r: VerifyQuoteFileReturnType): string[] {
  const { result, verdict } = r;
  const id = result.identity;
  const lines: string[] = [];
  lines.push(
    `quote:        ${result.tee.toUpperCase()} v${result.quoteVersion}${result.simulated ? '  (SIMULATED — not real hardware)' : ''}`,
  );
  if (id.tee === 'sgx') {
    lines.push(
      `mrenclave:    ${id.mrenclave}`,
      `mrsigner:     ${id.mrsigner}`,
      `isvprodid:    ${id.isvProdId}   isvsvn: ${id.isvSvn}`,
      `attributes:   ${id.attributes}${id.debug ? '  DEBUG' : ''}`,
    );
  } else {
    lines.push(
      `mrtd:         ${id.mrtd}`,
      `rtmr0..3:     ${id.rtmr0}`,
      `              ${id.rtmr1}`,
      `              ${id.rtmr2}`,
      `              ${id.rtmr3}`,
      `mrseam:       ${id.mrseam}`,
      `tdattributes: ${id.tdAttributes}${id.debug ? '  DEBUG' : ''}`,
    );
  }
  lines.push(`report data:  ${id.reportData}`);
  lines.push(`fmspc:        ${result.fmspc ?? '-'}`, `root:         ${result.root ?? '-'}`);
  lines.push(
    `tcb status:   ${result.tcbStatus ?? '-'}${result.advisoryIds.length ? `  [${result.advisoryIds.join(', ')}]` : ''}`,
  );
  lines.push(`verified at:  ${result.verifiedAt}   collateral: ${r.collateralSource}`);
  lines.push(`checks:`);
  for (const c of result.checks) lines.push(`  ${c.ok ? 'ok  ' : 'FAIL'} ${c.name}: ${c.detail}`);
  lines.push(`verified:     ${result.ok ? 'yes' : 'NO'}`);
  if (verdict) {
    lines.push('policy:');
    for (const c of verdict.claims) lines.push(`  ${c.ok ? 'ok  ' : 'FAIL'} ${c.claim}: ${c.reason}`);
    lines.push(
      `verdict:      ${verdict.allowed ? 'ALLOWED' : 'REFUSED'}${verdict.failed ? ` (${verdict.failed.claim}: ${verdict.failed.reason})` : ''}`,
    );
  }
  return lines;
}

function verifyCommand(attest: Command): void {
  attest
    .command('verify')
    .description(
      'Verify a DCAP quote (SGX v3/v4, TDX v4/v5; binary or hex) against its collateral, and a policy',
    )
    .argument('<quote>', 'quote file (binary or hex text)')
    .option(
      '--collateral <file>',
      'collateral: Intel PCS responses or *_collateral.json (default <quote>.collateral.json)',
    )
    .option('--at <iso-date>', 'verification time (default now), e.g. to check expired test collateral')
    .option('--policy <file>', 'policy JSON: exit 0 only if it allows the quote')
    .option('--allow-simulation', 'trust the local simulated platform root ($SEALWORK_HOME/sim-platform)')
    .option('--pccs-url <url>', 'fetch missing collateral from this PCCS (cached)')
    .action(
      action(
        async (
          ctx,
          o: {
            collateral?: string;
            at?: string;
            policy?: string;
            allowSimulation?: boolean;
            pccsUrl?: string;
          },
          quote: string,
        ) => {
          const { verifyQuoteFile, quoteRefusal } = await sdk();
          const r = await verifyQuoteFile({
            quote,
            collateral: o.collateral,
            at: o.at,
            policy: o.policy,
            allowSimulation: o.allowSimulation,
            pccsUrl: o.pccsUrl,
            home: ctx.home,
          });
          const out = {
            ...r.result,
            ...(r.verdict ? { verdict: r.verdict } : {}),
            collateralSource: r.collateralSource,
          };
          const refusal = quoteRefusal(r, ctx.json ? out : undefined);
          if (!refusal) {
            ctx.out(out, () => human(r));
            return;
          }
          // Refused: print the report (human), then fail with a stable code (JSON: the report is in details).
          if (!ctx.json) process.stdout.write(`${human(r).join('\n')}\n`);
          throw refusal;
        },
      ),
    );
}

function simQuoteCommand(attest: Command): void {
  attest
    .command('sim-quote')
    .description(
      'Make a SIMULATED SGX v3 quote (simulation root, not Intel) and write its collateral next to it',
    )
    .requiredOption('--mrenclave <hex>', 'MRENCLAVE, 32 bytes hex')
    .requiredOption('--report-data <hex>', 'REPORTDATA, 64 bytes hex')
    .requiredOption('--out <file>', 'quote output (binary); collateral goes to <file>.collateral.json')
    .option('--mrsigner <hex>', 'MRSIGNER, 32 bytes hex (default zeros)')
    .option('--attributes <hex>', 'ATTRIBUTES, 16 bytes hex (default 0500000000000000e700000000000000)')
    .option('--isv-prod-id <n>', 'ISVPRODID (default 0)')
    .option('--isv-svn <n>', 'ISVSVN (default 0)')
    .option('--force', 'overwrite existing outputs')
    .action(
      action(
        async (
          ctx,
          o: {
            mrenclave: string;
            reportData: string;
            out: string;
            mrsigner?: string;
            attributes?: string;
            isvProdId?: string;
            isvSvn?: string;
            force?: boolean;
          },
        ) => {
          const int = (v: string | undefined, name: string) => {
            if (v === undefined) return undefined;
            if (!/^\d+$/.test(v))
              throw new SealworkError('SIM_INVALID_INPUT', `${name} must be a non-negative integer.`, {
                hint: `Fix ${name}.`,
              });
            return Number(v);
          };
          const { simQuote } = await sdk();
          const r = await simQuote({
            mrenclave: o.mrenclave,
            reportData: o.reportData,
            mrsigner: o.mrsigner,
            attributes: o.attributes,
            isvProdId: int(o.isvProdId, '--isv-prod-id'),
            isvSvn: int(o.isvSvn, '--isv-svn'),
            out: o.out,
            force: o.force,
            home: ctx.home,
          });
          ctx.out({ ...r, simulated: true }, [
            `quote:      ${r.quote} (${r.size} bytes, SGX v3, SIMULATED)`,
            `collateral: ${r.collateral}`,
            `sim root:   ${r.root}`,
            `verify with: sealwork attest verify ${r.quote} --allow-simulation`,
          ]);
        },
      ),
    );
}

export function register(program: Command): void {
  const attest = program.command('attest').description('Attestation: verify DCAP quotes, simulated quotes');
  verifyCommand(attest);
  simQuoteCommand(attest);
}
