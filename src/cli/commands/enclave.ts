import type { Command } from 'commander';
import { SealworkError } from '../../errors.js';
const loadSdkEnclaveIndex = () => import('../../sdk/enclave/index.js');
import { action } from '../context.js';
import { group } from '../groups.js';

const SIM_WARNING =
  'simulated enclave (no SGX): integrity is checked, but the host can read everything — no confidentiality against the host';

const collect = (v: string, prev: string[] = []) => [...prev, v];

function identityLines(r: {
  mrenclave: string;
  fspfKey: string;
  fspfTag: string;
  fingerprint: string;
  mrenclaveJson: unknown;
  measured: string;
}): string[] {
  return [
    `MrEnclave:   ${r.mrenclave}`,
    `FSPF key:    ${r.fspfKey}`,
    `FSPF tag:    ${r.fspfTag}`,
    `fingerprint: ${r.fingerprint}`,
    `measured:    ${r.measured}`,
    `mrenclave:   ${JSON.stringify(r.mrenclaveJson)}`,
    'simulated:   true',
  ];
}

export function register(program: Command): void {
  const app = group(program, 'app');

  app
    .command('build')
    .description('Build a protected enclave image (FSPF layer, encrypted regions) and print its fingerprint')
    .argument('<image>', 'OCI image layout folder, or OCI / `docker save` tar archive')
    .requiredOption(
      '--entrypoint <cmd>',
      "command the enclave runs (its program, or a script's interpreter, is measured)",
    )
    .requiredOption('--out <image>', 'protected image to write (folder; a .tar name writes an archive)')
    .option(
      '--heap <size>',
      'enclave heap (e.g. 1G); the run-time memory limit is heap + threads × stack',
      '1G',
    )
    .option('--stack <size>', 'stack per thread (e.g. 8M)', '8M')
    .option('--threads <n>', 'enclave threads', '8')
    .option('--debug', 'debug enclave (changes MrEnclave)')
    .option(
      '--region <path:protection>',
      'file-system region, repeatable: /app:authenticated, /data:encrypted, /:not-protected (default /:authenticated)',
      collect,
    )
    .option(
      '--fs-key-file <path>',
      'where to write the keys of encrypted regions (0600; default $SEALWORK_HOME/keys/apps/<out>.fskey.json)',
    )
    .option('--mrenclave-out <file>', 'also write the mrenclave JSON (for `app deploy --mrenclave @file`)')
    .option('--force', 'overwrite existing outputs')
    .action(
      action(
        async (
          ctx,
          o: {
            mrenclaveOut?: string;
            entrypoint: string;
            out: string;
            heap: string;
            stack: string;
            threads: string;
            debug?: boolean;
            region?: string[];
            fsKeyFile?: string;
            force?: boolean;
          },
          image: string,
        ) => {
          const threads = Number(o.threads);
          ctx.info(`note: ${SIM_WARNING}`);
          const { buildApp } = await loadSdkEnclaveIndex();
          const r = await buildApp({
            image,
            out: o.out,
            entrypoint: o.entrypoint,
            heap: o.heap,
            stack: o.stack,
            threads: Number.isInteger(threads) ? threads : NaN,
            debug: o.debug,
            regions: o.region,
            fsKeyFile: o.fsKeyFile,
            force: o.force,
            home: ctx.home,
            mrenclaveOut: o.mrenclaveOut,
          });
          ctx.out(r, [
            `protected image: ${r.out}`,
            ...identityLines(r),
            `checksum:    ${r.checksum}`,
            `files:       ${r.files} protected (${r.encryptedFiles} encrypted)`,
            ...(r.mrenclaveFile ? [`mrenclave JSON written to ${r.mrenclaveFile}`] : []),
            ...(r.fsKeyFile
              ? [`fs key file: ${r.fsKeyFile} (0600; push it to the SMS, never ship it with the image)`]
              : []),
          ]);
        },
      ),
    );

  app
    .command('measure')
    .description('Recompute MrEnclave, FSPF key and tag of a protected image (checking every protected file)')
    .argument('<image>', 'protected image')
    .option(
      '--fs-key-file <path>',
      'also decrypt and check every file of encrypted regions (not needed to measure)',
    )
    .action(
      action(async (ctx, o: { fsKeyFile?: string }, image: string) => {
        const r = await (await loadSdkEnclaveIndex()).measureApp({ image, fsKeyFile: o.fsKeyFile });
        ctx.out(r, [`image:       ${r.image}`, ...identityLines(r), `files:       ${r.files} verified`]);
      }),
    );

  app
    .command('exec')
    .description('Run a protected image in the sandboxed (simulated) enclave; refuses on any FSPF mismatch')
    .argument('<image>', 'protected image')
    .option('--fspf-key <hex>', 'FSPF key (from the fingerprint)')
    .option('--fspf-tag <hex>', 'FSPF tag (from the fingerprint)')
    .option(
      '--fingerprint <fp>',
      'MrEnclave|FSPF_KEY|FSPF_TAG instead of key and tag (MrEnclave checked too)',
    )
    .option('--fs-key-file <path>', 'file-system key file, for images with encrypted regions')
    .option('--in <dir>', 'folder mounted read-only at /iexec_in')
    .option('--out <dir>', 'folder that receives /iexec_out (default: a fresh ./iexec_out-<time>-<id>)')
    .option(
      '--limit <name=value>',
      'sandbox bound, repeatable (processes, openFiles, fileBytes, cpuSeconds, tmpBytes, shmBytes, resultBytes, resultEntries, memoryBytes)',
      collect,
    )
    .option('--args <args>', 'arguments appended to the entrypoint')
    .option('--env <K=V>', 'environment variable, repeatable', collect)
    .option('--timeout <duration>', 'wall-clock limit (e.g. 60s, 2m)', '60s')
    .option('--memory <size>', 'address-space limit (default: heap + threads × stack)')
    .action(
      action(
        async (
          ctx,
          o: {
            fspfKey?: string;
            fspfTag?: string;
            fingerprint?: string;
            fsKeyFile?: string;
            in?: string;
            out?: string;
            limit?: string[];
            args?: string;
            env?: string[];
            timeout: string;
            memory?: string;
          },
          image: string,
        ) => {
          ctx.info(`note: ${SIM_WARNING}`);
          const { execApp } = await loadSdkEnclaveIndex();
          const r = await execApp({
            image,
            fspfKey: o.fspfKey,
            fspfTag: o.fspfTag,
            fingerprint: o.fingerprint,
            fsKeyFile: o.fsKeyFile,
            inDir: o.in,
            outDir: o.out,
            limits: o.limit,
            args: o.args,
            env: o.env,
            timeout: o.timeout,
            memoryBytes: o.memory
              ? (await loadSdkEnclaveIndex()).parseMemorySize(o.memory, 'memory limit')
              : undefined,
          });
          if (ctx.json) ctx.out(r, '');
          else {
            process.stdout.write(r.stdout);
            process.stderr.write(r.stderr);
            if (r.stdoutTruncated || r.stderrTruncated) ctx.info('(output truncated)');
            ctx.info(
              r.timedOut
                ? `timed out after ${r.durationMs} ms: the sandbox was killed`
                : `exit ${r.exitCode ?? r.signal} in ${r.durationMs} ms; outputs in ${r.outDir}; MrEnclave ${r.mrenclave}`,
            );
          }
          const status = r.timedOut ? 124 : r.exitCode === 0 ? 0 : (r.exitCode ?? 1);
          if (status === 0) return;
          // The app's status becomes the CLI's (124 on timeout, like timeout(1)).
          process.exitCode = status;
          if (!ctx.json)
            throw new SealworkError(
              r.timedOut ? 'APP_TIMED_OUT' : 'APP_FAILED',
              r.timedOut
                ? `The app was killed after the ${o.timeout} timeout.`
                : `The app exited with status ${r.exitCode ?? r.signal}.`,
              { hint: 'See its output above.', exitCode: status },
            );
        },
      ),
    );
}
