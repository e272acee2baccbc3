import type { Command } from 'commander';
import type { Address, Hex } from 'viem';
import { SealworkError } from '../../errors.js';
import type { FailureCause } from '../../worker/journal.js';
import { action } from '../context.js';
import { group } from '../groups.js';
import { chainOptions, chainParams, type ChainOpts } from './chain-common.js';
import { untilSignal } from './worker-storage.js';

const collect = (v: string, prev: string[] = []) => [...prev, v];

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

/**
 * What `task show` (chain domain, chain-market.ts) adds to the on-chain fields: the result location
 * and, when this home runs the worker that handled the task, its journal step and failure cause.
 */
export async function taskShowExtras(
  home: string | undefined,
  task: { taskid: Hex; results: Hex },
): Promise<{
  json: {
    resultsLocation: string | null;
    resultsStorage: string | null;
    workerStep: string | null;
    workerAttempts: number | null;
    failureCause: FailureCause | null;
  };
  lines: string[];
}> {
  const { localTaskRecord, parseTaskResults } = await import('../../sdk/worker/requester.js');
  const results = parseTaskResults(task.results);
  const local = await localTaskRecord({ home, taskId: task.taskid });
  return {
    json: {
      resultsLocation: results?.location ?? null,
      resultsStorage: results?.storage ?? null,
      workerStep: local?.step ?? null,
      workerAttempts: local?.attempts ?? null,
      failureCause: local?.cause ?? null,
    },
    lines: [
      ...(results?.location ? [`result:    ${results.location}`] : []),
      ...(local ? [`local worker: ${local.step} (enclave runs: ${local.attempts})`] : []),
      ...(local?.cause ? [`cause:     [${local.cause.code}] ${local.cause.message}`] : []),
    ],
  };
}

/** `sealwork worker start`, and the requester commands `app run`, `result download`. */
export function registerRun(program: Command): void {
  // ------------------------------------------------------------------ worker start
  const worker = group(program, 'worker');
  chainOptions(
    worker
      .command('start')
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
      .option('--task-timeout <seconds>', 'app wall-clock limit', '60'),
  ).action(
    action(
      async (
        ctx,
        o: ChainOpts & {
          workerpool: Address;
          slots: string;
          publishOrder?: string;
          smsUrl?: string;
          smsCa?: string;
          storageUrl?: string;
          workerKeyAs?: string;
          ipfsGateway: string;
          fileRoot?: string;
          appImageRoot?: string;
          maxImageSize?: string;
          allowZeroChecksum?: boolean;
          taskTimeout: string;
        },
      ) => {
        const { startWorker } = await import('../../sdk/worker/worker.js');
        const { parseSize } = await import('../../enclave/util.js');
        const { devAccountByName } = await import('../../chain/index.js');
        const w = await startWorker({
          ...chainParams(ctx, o),
          workerpool: o.workerpool,
          slots: Number(o.slots),
          ...(o.publishOrder ? { publishOrderVolume: Number(o.publishOrder) } : {}),
          smsUrl: o.smsUrl,
          smsCa: o.smsCa,
          storageUrl: o.storageUrl,
          ...(o.workerKeyAs ? { worker: devAccountByName(o.workerKeyAs) } : {}),
          ipfsGateway: o.ipfsGateway,
          ...(o.fileRoot ? { fileRoot: o.fileRoot } : {}),
          ...(o.appImageRoot ? { appImageRoot: o.appImageRoot } : {}),
          ...(o.maxImageSize ? { maxImageBytes: parseSize(o.maxImageSize, '--max-image-size') } : {}),
          ...(o.allowZeroChecksum ? { allowZeroChecksum: true } : {}),
          taskTimeoutMs: Number(o.taskTimeout) * 1000,
          onEvent: (e) =>
            ctx.json
              ? process.stdout.write(`${JSON.stringify({ event: e })}\n`)
              : ctx.info(
                  `${e.kind}${e.taskId ? ` ${e.taskId}` : ''}${e.dealId && !e.taskId ? ` ${e.dealId}` : ''}${e.detail ? ` ${e.detail}` : ''}${e.cause ? ` [${e.cause.code}] ${e.cause.message}` : ''}`,
                ),
        });
        ctx.info(
          `worker serving workerpool ${w.workerpool} (scheduler ${w.scheduler}, worker ${w.workerAddress}); Ctrl-C to stop`,
        );
        await untilSignal(w.stop);
      },
    ),
  );

  // ------------------------------------------------------------------ app run
  const app = group(program, 'app');
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
    action(
      async (
        ctx,
        o: ChainOpts & {
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
        },
        appAddress: Address,
      ) => {
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
          throw new SealworkError(
            'WATCH_TIMEOUT_INVALID',
            `--timeout ${o.timeout} is not a number of seconds.`,
            {
              hint: 'Give --timeout as e.g. 300.',
            },
          );
        const { runApp, watchTask } = await import('../../sdk/worker/requester.js');
        const r = await runApp({
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
        const finals = [];
        for (const taskId of r.taskIds)
          finals.push(
            await watchTask({
              ...chainParams(ctx, o),
              taskId,
              timeoutMs,
              onChange: (i) =>
                ctx.info(
                  `task ${taskId.slice(0, 10)}… ${i.status}${i.worker ? ` (worker: ${i.worker.step})` : ''}`,
                ),
            }),
          );
        const failed = finals.filter((f) => f.status !== 'COMPLETED');
        ctx.out({ ...r, tasks: finals }, [
          `deal:  ${r.dealId}`,
          ...finals.map(
            (f) =>
              `task:  ${f.taskId} ${f.status}${f.results?.location ? ` → ${f.results.location}` : ''}${f.worker?.cause ? ` [${f.worker.cause.code}] ${f.worker.cause.message}` : ''}`,
          ),
        ]);
        if (failed.length)
          throw new SealworkError('TASK_FAILED', `${failed.length} task(s) did not complete.`, {
            hint: 'See `sealwork task show <taskid>` for the cause.',
          });
      },
    ),
  );

  // ------------------------------------------------------------------ result download / keygen
  const result = group(program, 'result');
  chainOptions(
    result
      .command('download')
      .description('Download the result of a completed task (and decrypt it with the beneficiary key)')
      .argument('<taskid>')
      .option('--decrypt', 'decrypt the result (needs --key)')
      .option('--key <file>', 'the beneficiary RSA private key (PEM)')
      .option('--out <dir>', 'folder for the result files (default ./<taskid>)')
      .option('--storage-ca <cert.pem>', 'certificate of the result storage (default: the local storage’s)')
      .option('--force', 'overwrite existing files'),
  ).action(
    action(
      async (
        ctx,
        o: ChainOpts & { decrypt?: boolean; key?: string; out?: string; storageCa?: string; force?: boolean },
        taskid: string,
      ) => {
        const { downloadResult } = await import('../../sdk/worker/requester.js');
        let ca: string[] | undefined;
        if (o.storageCa) {
          const { readFile } = await import('node:fs/promises');
          const { fsError } = await import('../../errors.js');
          const path = o.storageCa;
          ca = [
            await readFile(path, 'utf8').catch((e: unknown) => {
              throw fsError(e, path, 'read');
            }),
          ];
        }
        const r = await downloadResult({
          ...chainParams(ctx, o),
          taskId: taskid as Hex,
          decrypt: o.decrypt,
          keyFile: o.key,
          out: o.out,
          force: o.force,
          ...(ca ? { ca } : {}),
          onWarning: (w) => process.stderr.write(`${w}\n`),
        });
        ctx.out(r, [
          `result of ${taskid}${r.decrypted ? ' (decrypted)' : r.encrypted ? ' (encrypted: pass --decrypt --key <file>)' : ''}:`,
          ...r.files.map((f) => `  ${f}`),
        ]);
      },
    ),
  );
}
