/** `sealwork worker start`: the scheduler + enclave worker of a workerpool. */
import type { Command } from 'commander';
import type { Address } from 'viem';
import type { WorkerEvent } from '../../sdk/worker/worker.js';
import { action, type CliContext } from '../context.js';
import { chainOptions, chainParams, smsPinOptions, type ChainOpts } from '../options.js';
import { untilSignal } from '../terminal.js';

interface StartOpts extends ChainOpts {
  workerpool: Address;
  slots: string;
  publishOrder?: string;
  smsUrl?: string;
  smsCa?: string;
  smsMrenclave?: string[];
  smsMrsigner?: string[];
  smsAllowSimulation?: boolean;
  storageUrl?: string;
  workerKeyAs?: string;
  ipfsGateway: string;
  fileRoot?: string;
  allowFetchHost?: string[];
  appImageRoot?: string;
  maxImageSize?: string;
  allowZeroChecksum?: boolean;
  allowUncheckedDatasets?: boolean;
  taskTimeout: string;
}

/** One worker event: a JSON line on stdout with --json, else a line on stderr. */
function printEvent(ctx: CliContext, e: WorkerEvent): void {
  if (ctx.json) process.stdout.write(`${JSON.stringify({ event: e })}\n`);
  else
    ctx.info(
      `${e.kind}${e.taskId ? ` ${e.taskId}` : ''}${e.dealId && !e.taskId ? ` ${e.dealId}` : ''}${e.detail ? ` ${e.detail}` : ''}${e.cause ? ` [${e.cause.code}] ${e.cause.message}` : ''}`,
    );
}

export function register(program: Command): void {
  const worker = program.command('worker').description('The worker (scheduler + enclave runner)');
  chainOptions(
    smsPinOptions(worker.command('start'))
      .description('Run the scheduler + enclave worker of a workerpool until interrupted (simulated SGX)')
      .requiredOption('--workerpool <address>', 'the workerpool to serve (its owner wallet signs)')
      .option('--slots <n>', 'tasks run concurrently', '2')
      .option(
        '--publish-order <volume>',
        'publish an open TEE workerpool order of this volume if none is open',
      )
      .option('--sms-url <url>', 'the SMS (default: the one `sms start` recorded under this home)')
      .option('--sms-ca <cert.pem>', 'the SMS certificate to trust (default: the recorded one)')
      .option('--storage-url <url>', 'result storage (default: the one started under this home)')
      .option('--worker-key-as <name>', 'dev account of the worker wallet (default: the workerpool owner)')
      .option('--ipfs-gateway <url>', 'gateway for /ipfs/ dataset and input-file URLs', 'https://ipfs.io')
      .option(
        '--file-root <dir>',
        'serve file:// dataset and input-file URLs from under this folder only (default: refused)',
      )
      .option(
        '--allow-fetch-host <host[:port]|CIDR>',
        'let dataset, input-file and app-image downloads reach this non-public host, address or range (repeatable; env SEALWORK_ALLOW_FETCH_HOSTS; default: public addresses only)',
        (v: string, prev: string[] = []) => [...prev, v],
      )
      .option(
        '--app-image-root <dir>',
        'read app images given as local paths or file:// URLs only under this folder (env SEALWORK_APP_IMAGE_ROOT; default: refused)',
      )
      .option(
        '--max-image-size <size>',
        'largest app image accepted, downloaded or local, e.g. 2G (env SEALWORK_MAX_APP_IMAGE_SIZE; default 2G)',
      )
      .option(
        '--allow-zero-checksum',
        'run apps deployed with a zero checksum, trusting the enclave fingerprint alone (env SEALWORK_ALLOW_ZERO_CHECKSUM=1)',
      )
      .option(
        '--allow-unchecked-datasets',
        'run datasets deployed with a zero checksum, unchecked: AES-CBC has no MAC, they are malleable (env SEALWORK_ALLOW_UNCHECKED_DATASETS=1)',
      )
      .option('--task-timeout <seconds>', 'app wall-clock limit', '60'),
  ).action(
    action(async (ctx, o: StartOpts) => {
      const { startWorker } = await import('../../sdk/worker/worker.js');
      // The byte-size grammar of the enclave options (8M, 64M, 1G…).
      const { parseMemorySize } = await import('../../sdk/enclave/index.js');
      const { devAccount } = await import('../../sdk/chain/accounts.js');
      const w = await startWorker({
        ...chainParams(ctx, o),
        workerpool: o.workerpool,
        slots: Number(o.slots),
        ...(o.publishOrder ? { publishOrderVolume: Number(o.publishOrder) } : {}),
        smsUrl: o.smsUrl,
        smsCa: o.smsCa,
        ...(o.smsMrenclave?.length ? { smsMrenclave: o.smsMrenclave } : {}),
        ...(o.smsMrsigner?.length ? { smsMrsigner: o.smsMrsigner } : {}),
        ...(o.smsAllowSimulation ? { smsAllowSimulation: true } : {}),
        storageUrl: o.storageUrl,
        ...(o.workerKeyAs ? { worker: devAccount(o.workerKeyAs) } : {}),
        ipfsGateway: o.ipfsGateway,
        ...(o.fileRoot ? { fileRoot: o.fileRoot } : {}),
        ...(o.allowFetchHost?.length ? { allowFetchHosts: o.allowFetchHost } : {}),
        ...(o.appImageRoot ? { appImageRoot: o.appImageRoot } : {}),
        ...(o.maxImageSize ? { maxImageBytes: parseMemorySize(o.maxImageSize, '--max-image-size') } : {}),
        ...(o.allowZeroChecksum ? { allowZeroChecksum: true } : {}),
        ...(o.allowUncheckedDatasets ? { allowUncheckedDatasets: true } : {}),
        taskTimeoutMs: Number(o.taskTimeout) * 1000,
        onEvent: (e) => printEvent(ctx, e),
      });
      ctx.info(
        `worker serving workerpool ${w.workerpool} (scheduler ${w.scheduler}, worker ${w.workerAddress}); Ctrl-C to stop`,
      );
      await untilSignal(w.stop);
    }),
  );
}
