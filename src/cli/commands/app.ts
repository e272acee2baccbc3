/**
 * `sealwork app`: deploy and show on chain, build / measure / exec a protected enclave image, push
 * its secrets to the SMS, and request a confidential run.
 */
import type { Command } from 'commander';
import type { Address } from 'viem';
import { SealworkError } from '../../errors.js';
import { action, pushed, type CliContext } from '../context.js';
import {
  chainOptions,
  chainParams,
  collect,
  smsOptions,
  smsParams,
  type ChainOpts,
  type SmsOpts,
} from '../options.js';
import { readSecret } from '../terminal.js';

// SDK modules are loaded on use: `sealwork --help` and other commands do not pay for them.
const sdkAssets = () => import('../../sdk/chain/assets.js');
const sdkEnclave = () => import('../../sdk/enclave/index.js');
const sdkSms = () => import('../../sdk/sms/index.js');
const sdkRequester = () => import('../../sdk/worker/requester.js');
const sdkTask = () => import('../../sdk/worker/task.js');
const sdkDevloop = () => import('../../sdk/enclave/devloop.js');

const SIM_WARNING =
  'simulated enclave (no SGX): integrity is checked, but the host can read everything — no confidentiality against the host';

function identityLines(r: {
  mrenclave: string;
  fspfKey: string;
  fspfTag: string;
  fingerprint: string;
  mrenclaveJson: unknown;
  measured: string;
  config?: { egress?: string[] };
}): string[] {
  return [
    ...(r.config?.egress?.length ? [`egress:      ${r.config.egress.join(', ')} (TLS only, measured)`] : []),
    `MrEnclave:   ${r.mrenclave}`,
    `FSPF key:    ${r.fspfKey}`,
    `FSPF tag:    ${r.fspfTag}`,
    `fingerprint: ${r.fingerprint}`,
    `measured:    ${r.measured}`,
    `mrenclave:   ${JSON.stringify(r.mrenclaveJson)}`,
    'simulated:   true',
  ];
}

function deployCommand(app: Command): void {
  chainOptions(
    app
      .command('deploy')
      .description('Register an app on chain: image URI and enclave fingerprint (mrenclave JSON)')
      .requiredOption('--name <name>', 'app name')
      .requiredOption('--image <uri>', 'image URI (stored as m_appMultiaddr)')
      .option(
        '--mrenclave <json|@file>',
        '{"framework":"SCONE","version","entrypoint","heapSize","fingerprint"} (omit for a non-TEE app)',
      )
      .option(
        '--checksum <bytes32>',
        'image digest (0x + 64 hex); default: computed for a local image, else zero (refused by workers unless allowed)',
      )
      .option('--owner <address>', 'owner of the app NFT (default: the wallet)')
      .option('--publish-order <volume>', 'also sign and publish an open TEE app order of this volume'),
  ).action(
    action(
      async (
        ctx,
        o: ChainOpts & {
          name: string;
          image: string;
          mrenclave?: string;
          checksum?: string;
          owner?: Address;
          publishOrder?: string;
        },
      ) => {
        const r = await (await sdkAssets()).deployApp({ ...chainParams(ctx, o), ...o });
        const volume = o.publishOrder === undefined ? undefined : Number(o.publishOrder);
        if (volume !== undefined && !(Number.isSafeInteger(volume) && volume >= 1))
          throw new SealworkError('VOLUME_INVALID', `--publish-order ${o.publishOrder} is not a volume.`, {
            hint: 'Give a whole number of tasks, e.g. --publish-order 1000.',
          });
        const order = volume
          ? await (await sdkDevloop()).publishTeeAppOrder({ ...chainParams(ctx, o), app: r.address, volume })
          : undefined;
        if (/^0x0{64}$/.test(r.checksum))
          ctx.info(
            'warning: the app is deployed with a zero checksum; workers refuse it unless their operator passes --allow-zero-checksum. Give --checksum 0x<sha256 of the image archive>, or deploy a local image to have it computed.',
          );
        ctx.out({ ...r, ...(order ? { order } : {}) }, [
          `app:      ${r.address}`,
          ...(order ? [`order:    ${order.orderHash} (TEE, volume ${volume}, published)`] : []),
          `owner:    ${r.owner}`,
          `image:    ${r.multiaddr}`,
          `checksum: ${r.checksum}${r.checksumComputed ? ' (computed from the local image)' : ''}`,
          `tx:       ${r.txHash}`,
        ]);
      },
    ),
  );
}

function showCommand(app: Command): void {
  chainOptions(
    app.command('show').description('Show an app registered on chain').argument('<address>'),
  ).action(
    action(async (ctx, o: ChainOpts, address: string) => {
      const { showApp } = await sdkAssets();
      const r = await showApp({ ...chainParams(ctx, o), address: address as Address });
      ctx.out(r, [
        `app:       ${r.address}`,
        `owner:     ${r.owner}`,
        `name:      ${r.name}`,
        `image:     ${r.multiaddr}`,
        `checksum:  ${r.checksum}`,
        `mrenclave: ${r.mrenclave || '(none: not a TEE app)'}`,
      ]);
    }),
  );
}

interface BuildOpts {
  mrenclaveOut?: string;
  entrypoint?: string;
  out?: string;
  heap: string;
  stack: string;
  threads: string;
  debug?: boolean;
  region?: string[];
  egress?: string[];
  fsKeyFile?: string;
  force?: boolean;
  builder?: string;
}

async function buildFromImage(ctx: CliContext, o: BuildOpts, image: string): Promise<void> {
  if (!o.entrypoint || !o.out)
    throw new SealworkError(
      'BUILD_OPTIONS_REQUIRED',
      `Building from the image ${image} needs --entrypoint and --out.`,
      {
        hint: 'Give both, or give an app folder (with a Dockerfile and sealwork.json, made by `sealwork app init`).',
      },
    );
  const threads = Number(o.threads);
  const { buildApp } = await sdkEnclave();
  const r = await buildApp({
    image,
    out: o.out,
    entrypoint: o.entrypoint,
    heap: o.heap,
    stack: o.stack,
    threads: Number.isInteger(threads) ? threads : NaN,
    debug: o.debug,
    regions: o.region,
    egress: o.egress,
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
}

async function buildFromFolder(ctx: CliContext, o: BuildOpts, dir: string): Promise<void> {
  const r = await (await sdkDevloop()).buildProject({ dir, home: ctx.home, builder: o.builder, out: o.out });
  if (r.baseBuilt) ctx.info(`built the base image sealwork/${r.base} first`);
  ctx.out(r, [
    `protected image: ${r.out} (FROM sealwork/${r.base}, ${r.ms} ms)`,
    ...identityLines(r),
    `checksum:    ${r.checksum}`,
    `files:       ${r.files} protected (${r.encryptedFiles} encrypted)`,
    `mrenclave JSON written to ${r.mrenclaveFile}`,
    ...(r.fsKeyFile
      ? [`fs key file: ${r.fsKeyFile} (0600; push it to the SMS, never ship it with the image)`]
      : []),
  ]);
}

function buildCommand(app: Command): void {
  app
    .command('build')
    .description(
      'Build a protected enclave image (FSPF layer, encrypted regions) and print its fingerprint: from an app folder (Dockerfile + sealwork.json) or from an OCI image',
    )
    .argument(
      '<dir|image>',
      'app folder (made by `app init`), or OCI image layout folder / OCI or `docker save` tar',
    )
    .option(
      '--entrypoint <cmd>',
      "from an image: command the enclave runs (its program, or a script's interpreter, is measured)",
    )
    .option(
      '--out <image>',
      'protected image to write (folder; a .tar name writes an archive); an app folder builds into <dir>/build/app',
    )
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
      '--egress <host:port>',
      'network shield: a destination the app may reach over TLS, repeatable (measured; default: no network)',
      collect,
    )
    .option(
      '--fs-key-file <path>',
      'where to write the keys of encrypted regions (0600; default $SEALWORK_HOME/keys/apps/<out>.fskey.json)',
    )
    .option('--mrenclave-out <file>', 'also write the mrenclave JSON (for `app deploy --mrenclave @file`)')
    .option(
      '--builder <auto|mmdebstrap|host>',
      'app folder: how a missing base image is built (default auto)',
    )
    .option('--force', 'overwrite existing outputs')
    .action(
      action(async (ctx, o: BuildOpts, target: string) => {
        ctx.info(`note: ${SIM_WARNING}`);
        if (await (await sdkDevloop()).isAppFolder(target)) await buildFromFolder(ctx, o, target);
        else await buildFromImage(ctx, o, target);
      }),
    );
}

function initCommand(app: Command): void {
  app
    .command('init')
    .description(
      'Write a new confidential app folder from a template: Dockerfile, code, sealwork.json, sample input, README',
    )
    .argument('<dir>', 'new (or empty) folder')
    .option('--template <name>', 'python, node or shell', 'python')
    .option('--name <name>', 'app name (default: the folder name)')
    .action(
      action(async (ctx, o: { template: string; name?: string }, dir: string) => {
        const r = await (await sdkDevloop()).initApp({ dir, template: o.template, name: o.name });
        ctx.out(r, [
          `app ${r.name} (${r.template}) written to ${r.dir}:`,
          ...r.files.map((f) => `  ${f}`),
          `next: sealwork app test ${dir}`,
        ]);
      }),
    );
}

function pushCommand(app: Command): void {
  app
    .command('push')
    .description(
      'Push a protected image to an OCI registry (skopeo) and print the reference pinned by digest, for `app deploy --image`',
    )
    .argument('<image>', 'protected image (folder or .tar), or an app folder (its build/app)')
    .argument('<ref>', '<registry host[:port]>/<name>:<tag>')
    .option('--cert-dir <dir>', "folder of CA certificates (*.crt) for the registry's TLS")
    .option('--creds <user:password>', "registry credentials (default: Docker's ~/.docker/config.json)")
    .option('--authfile <file>', 'Docker-style auth file to read credentials from')
    .action(
      action(
        async (
          ctx,
          o: { certDir?: string; creds?: string; authfile?: string },
          image: string,
          ref: string,
        ) => {
          const r = await (
            await sdkDevloop()
          ).pushApp({
            image,
            ref,
            ...(o.certDir ? { certDir: o.certDir } : {}),
            ...(o.creds ? { creds: o.creds } : {}),
            ...(o.authfile ? { authFile: o.authfile } : {}),
          });
          ctx.out(r, [
            `pushed:  ${r.ref} (${r.ms} ms)`,
            `digest:  ${r.digest}`,
            `deploy:  sealwork app deploy --image ${r.pinned} …`,
            r.pinned,
          ]);
        },
      ),
    );
}

function testCommand(app: Command): void {
  app
    .command('test')
    .description(
      'Build the app folder and run it in the simulated enclave with no chain: the sample dataset encrypted and decrypted as a worker does, mock secrets, args and input files from sealwork.json',
    )
    .argument('[dir]', 'app folder', '.')
    .option('--builder <auto|mmdebstrap|host>', 'how a missing base image is built (default auto)')
    .action(
      action(async (ctx, o: { builder?: string }, dir: string) => {
        ctx.info(`note: ${SIM_WARNING}`);
        const r = await (await sdkDevloop()).testApp({ dir, home: ctx.home, builder: o.builder });
        const { run } = r;
        const failed = r.failure
          ? new SealworkError('APP_TEST_FAILED', `app test failed: ${r.failure.message}`, {
              ...(r.failure.hint ? { hint: r.failure.hint } : {}),
              details: {
                cause: r.failure.code,
                exitCode: run.exitCode,
                timedOut: run.timedOut,
                stdout: run.stdout,
                stderr: run.stderr,
                outDir: r.outDir,
              },
            })
          : undefined;
        if (failed && ctx.json) throw failed; // one JSON document: the error, with the app's logs
        ctx.out(r, () => [
          `build:       ${r.build.out} (${r.build.ms} ms), MrEnclave ${r.build.mrenclave}`,
          `inputs:      ${[
            r.inputs.dataset
              ? `dataset ${r.inputs.dataset} (encrypted, checksum ${r.inputs.datasetChecksum}, decrypted in memory)`
              : 'no dataset',
            `${r.inputs.inputFiles.length} input file(s)`,
            r.inputs.args ? `args "${r.inputs.args}"` : 'no args',
            r.inputs.secrets.length ? `mock ${r.inputs.secrets.join(', ')}` : 'no secrets',
          ].join('; ')}`,
          `exit code:   ${run.timedOut ? 'timed out' : (run.exitCode ?? run.signal)} (${run.durationMs} ms)`,
          '--- stdout',
          ...run.stdout.trimEnd().split('\n'),
          '--- stderr',
          ...run.stderr.trimEnd().split('\n'),
          '---',
          ...(r.computed ? [`computed.json: ${JSON.stringify(r.computed)}`] : []),
          ...(r.resultDigest ? [`result digest: ${r.resultDigest}`] : []),
          `output:      ${r.outDir}`,
          ...(r.result !== undefined ? ['--- result', ...r.result.trimEnd().split('\n')] : []),
        ]);
        if (failed) throw failed;
      }),
    );
}

function measureCommand(app: Command): void {
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
        const r = await (await sdkEnclave()).measureApp({ image, fsKeyFile: o.fsKeyFile });
        ctx.out(r, [`image:       ${r.image}`, ...identityLines(r), `files:       ${r.files} verified`]);
      }),
    );
}

interface ExecOpts {
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
  allowFetchHost?: string[];
}

function execCommand(app: Command): void {
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
    .option(
      '--allow-fetch-host <host[:port]|CIDR>',
      "network shield: let the app's measured destinations reach this private or loopback host, repeatable",
      collect,
    )
    .action(
      action(async (ctx, o: ExecOpts, image: string) => {
        ctx.info(`note: ${SIM_WARNING}`);
        const { execApp, parseMemorySize, describeTunnel } = await sdkEnclave();
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
          memoryBytes: o.memory ? parseMemorySize(o.memory, 'memory limit') : undefined,
          allowFetchHosts: o.allowFetchHost,
        });
        if (ctx.json) ctx.out(r, '');
        else {
          process.stdout.write(r.stdout);
          process.stderr.write(r.stderr);
          for (const t of r.network?.tunnels ?? []) ctx.info(describeTunnel(t));
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
      }),
    );
}

function pushSecretCommand(app: Command): void {
  smsOptions(
    app
      .command('push-secret')
      .description('Push the app developer secret (IEXEC_APP_DEVELOPER_SECRET) to the SMS, as the app owner')
      .argument('<app>', 'app address')
      .option('--secret-file <path>', 'file holding the secret (else stdin or a masked prompt)')
      .option('--stdin', 'read the secret from stdin'),
  ).action(
    action(async (ctx, o: SmsOpts & { secretFile?: string; stdin?: boolean }, address: string) => {
      const secret = await readSecret(ctx, { file: o.secretFile, stdin: o.stdin }, 'app secret');
      pushed(
        ctx,
        `secret of app ${address}`,
        await (await sdkSms()).pushAppSecret({ ...smsParams(ctx, o), app: address, secret }),
      );
    }),
  );
}

function pushFsKeyCommand(app: Command): void {
  smsOptions(
    app
      .command('push-fs-key')
      .description(
        "Push the app's file-system key (encrypted regions) to the SMS, as the app owner; immutable",
      )
      .argument('<app>', 'app address')
      .requiredOption('--fs-key-file <file>', 'the file-system key file written by `app build`'),
  ).action(
    action(async (ctx, o: SmsOpts & { fsKeyFile: string }, address: string) => {
      pushed(
        ctx,
        `file-system key of app ${address}`,
        await (await sdkSms()).pushAppFsKey({ ...smsParams(ctx, o), app: address, fsKeyFile: o.fsKeyFile }),
      );
    }),
  );
}

/** `--secret <index>=<name>` options, as the `iexec_secrets` map. */
function parseSecrets(list: string[] = []): Record<string, string> {
  const out: Record<string, string> = {};
  for (const s of list) {
    const m = /^(\d+)=([A-Za-z0-9_-]{1,64})$/.exec(s);
    if (!m)
      throw new SealworkError('SECRET_MAPPING_INVALID', `Cannot read --secret ${s}.`, {
        hint: 'Use --secret <index>=<name>, e.g. --secret 1=my-api-key (the name of a requester secret in the SMS).',
      });
    out[m[1]!] = m[2]!;
  }
  return out;
}

interface RunOpts extends ChainOpts {
  dataset?: Address;
  workerpool?: Address;
  args?: string;
  secret?: string[];
  inputFile?: string[];
  encryptResult?: boolean;
  resultKeyFormat: string;
  beneficiary?: Address;
  appOrder?: string;
  datasetOrder?: string;
  workerpoolOrder?: string;
  volume: string;
  watch?: boolean;
  timeout: string;
}

/** The checks of `app run`'s own options, before anything is sent: the watch timeout in ms. */
function runTimeoutMs(o: RunOpts): number {
  if (!['oaep', 'iexec'].includes(o.resultKeyFormat))
    throw new SealworkError(
      'RESULT_KEY_FORMAT_INVALID',
      `Unknown --result-key-format ${o.resultKeyFormat}.`,
      {
        hint: 'Use oaep (default) or iexec.',
      },
    );
  const timeoutMs = Number(o.timeout) * 1000;
  if (o.watch && !(timeoutMs > 0))
    throw new SealworkError('WATCH_TIMEOUT_INVALID', `--timeout ${o.timeout} is not a number of seconds.`, {
      hint: 'Give --timeout as e.g. 300.',
    });
  return timeoutMs;
}

/** `app run --watch`: the app's logs of each failed task, from the worker (best effort). */
async function printFailedLogs(ctx: CliContext, o: RunOpts, failed: { taskId: string }[]): Promise<void> {
  const { taskLogs } = await import('../../sdk/worker/logs.js');
  const { logLines } = await import('./task.js');
  for (const f of failed) {
    try {
      const r = await taskLogs({ ...chainParams(ctx, o), taskId: f.taskId as `0x${string}` });
      for (const line of logLines(r)) ctx.info(line);
    } catch (e) {
      ctx.info(`(no logs for task ${f.taskId}: ${(e as Error).message})`);
    }
  }
}

function runCommand(app: Command): void {
  chainOptions(
    app
      .command('run')
      .description('Request a confidential run of an app: find orders, sign the request, match the deal')
      .argument('<app>', 'app address')
      .option('--dataset <address>', 'dataset to compute on')
      .option('--workerpool <address>', 'workerpool (default: any with a matching TEE order)')
      .option('--args <args>', 'arguments for the app (iexec_args)')
      .option(
        '--secret <index=name>',
        'requester secret given to the app as IEXEC_REQUESTER_SECRET_<index>',
        collect,
      )
      .option('--input-file <url>', 'input file URL (repeatable)', collect)
      .option('--encrypt-result', 'encrypt the result to the beneficiary key pushed to the SMS')
      .option(
        '--result-key-format <format>',
        'key wrap of the result: oaep (default) or iexec (iExec SDK format)',
        'oaep',
      )
      .option('--beneficiary <address>', 'who receives the result (default: the requester)')
      .option('--app-order <file>', 'use this signed app order instead of the market')
      .option('--dataset-order <file>', 'use this signed dataset order instead of the market')
      .option('--workerpool-order <file>', 'use this signed workerpool order instead of the market')
      .option('--volume <n>', 'number of tasks in the deal', '1')
      .option('--watch', 'follow the task(s) until completed or failed')
      .option('--timeout <seconds>', 'give up watching after this long', '300'),
  ).action(
    action(async (ctx, o: RunOpts, appAddress: Address) => {
      const timeoutMs = runTimeoutMs(o);
      const r = await (
        await sdkRequester()
      ).runApp({
        ...chainParams(ctx, o),
        app: appAddress,
        dataset: o.dataset,
        workerpool: o.workerpool,
        args: o.args,
        secrets: parseSecrets(o.secret),
        inputFiles: o.inputFile,
        encryptResult: o.encryptResult,
        resultKeyFormat: o.resultKeyFormat === 'iexec' ? 'iexec' : 'oaep-sha256',
        beneficiary: o.beneficiary,
        appOrderFile: o.appOrder,
        datasetOrderFile: o.datasetOrder,
        workerpoolOrderFile: o.workerpoolOrder,
        volume: Number(o.volume),
      });
      ctx.info(`deal ${r.dealId} matched (tx ${r.txHash})`);
      if (!o.watch) {
        ctx.out(r, [`deal:  ${r.dealId}`, ...r.taskIds.map((t) => `task:  ${t}`)]);
        return;
      }
      const finals = await (
        await sdkTask()
      ).watchTasks({
        ...chainParams(ctx, o),
        taskIds: r.taskIds,
        timeoutMs,
        onChange: (taskId, i) =>
          ctx.info(
            `task ${taskId.slice(0, 10)}… ${i.status}${i.worker ? ` (worker: ${i.worker.step})` : ''}`,
          ),
      });
      const failed = finals.filter((f) => f.status !== 'COMPLETED');
      ctx.out({ ...r, tasks: finals }, [
        `deal:  ${r.dealId}`,
        ...finals.map(
          (f) =>
            `task:  ${f.taskId} ${f.status}${f.results?.location ? ` → ${f.results.location}` : ''}${f.worker?.cause ? ` [${f.worker.cause.code}] ${f.worker.cause.message}` : ''}`,
        ),
      ]);
      if (failed.length && !ctx.json) await printFailedLogs(ctx, o, failed);
      if (failed.length)
        throw new SealworkError('TASK_FAILED', `${failed.length} task(s) did not complete.`, {
          hint: 'See `sealwork task show <taskid>` for the cause.',
        });
    }),
  );
}

export function register(program: Command): void {
  const app = program.command('app').description('Apps: build and measure enclave images, deploy, run');
  initCommand(app);
  testCommand(app);
  pushCommand(app);
  deployCommand(app);
  showCommand(app);
  buildCommand(app);
  measureCommand(app);
  execCommand(app);
  pushSecretCommand(app);
  pushFsKeyCommand(app);
  runCommand(app);
}
