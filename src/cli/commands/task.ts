/** `sealwork task`: show a task (on chain, and from this home's worker journal), claim it. */
import type { Command } from 'commander';
import { action } from '../context.js';
import { chainOptions, chainParams, when, type ChainOpts } from '../options.js';

function logsCommand(task: Command): void {
  chainOptions(
    task
      .command('logs')
      .description(
        "The app's stdout and stderr of a task (last 64 KiB of each), from the worker, for the requester only (EIP-712-signed request)",
      )
      .argument('<taskid>')
      .option('--worker-url <url>', "the worker's logs API (default: the one recorded by this home's worker)")
      .option('--worker-ca <cert.pem>', "the worker's certificate (default: the recorded one)"),
  ).action(
    action(async (ctx, o: ChainOpts & { workerUrl?: string; workerCa?: string }, taskid: string) => {
      const { taskLogs } = await import('../../sdk/worker/logs.js');
      const r = await taskLogs({
        ...chainParams(ctx, o),
        taskId: taskid as `0x${string}`,
        ...(o.workerUrl ? { workerUrl: o.workerUrl } : {}),
        ...(o.workerCa ? { workerCa: o.workerCa } : {}),
      });
      ctx.out(r, () => logLines(r));
    }),
  );
}

/** The lines `task logs` (and `app run --watch` on a failure) print. */
export function logLines(r: {
  taskId: string;
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  stdout: string;
  stderr: string;
  truncated: boolean;
}): string[] {
  const status = r.timedOut ? 'timed out' : `exit ${r.exitCode ?? r.signal}`;
  return [
    `task ${r.taskId}: ${status}${r.truncated ? ' (logs truncated: the end is kept)' : ''}`,
    '--- stdout',
    ...(r.stdout ? r.stdout.trimEnd().split('\n') : []),
    '--- stderr',
    ...(r.stderr ? r.stderr.trimEnd().split('\n') : []),
  ];
}

export function register(program: Command): void {
  const task = program.command('task').description('Tasks: show status and results');
  logsCommand(task);
  chainOptions(
    task
      .command('show')
      .description('Show a task: on-chain status, deadlines, result; its failure cause from a local worker')
      .argument('<taskid>')
      .option('--key <file>', 'the beneficiary RSA private key (PEM): check an encrypted result too')
      .option('--storage-ca <cert.pem>', 'certificate of the result storage (default: the local storage’s)')
      .option('--no-check-result', 'do not fetch the stored result to compare it with the chain'),
  ).action(
    action(
      async (
        ctx,
        o: ChainOpts & { key?: string; storageCa?: string; checkResult?: boolean },
        taskid: string,
      ) => {
        const { showTaskWithJournal } = await import('../../sdk/worker/task.js');
        const t = await showTaskWithJournal({
          ...chainParams(ctx, o),
          taskid,
          ...(o.checkResult === false ? { checkResult: false } : {}),
          ...(o.key ? { keyFile: o.key } : {}),
          ...(o.storageCa ? { caFile: o.storageCa } : {}),
        });
        ctx.out(t, [
          `task:      ${t.taskid}`,
          `status:    ${t.statusName}`,
          `deal:      ${t.dealid} #${t.idx}`,
          `deadlines: contribution ${when(t.contributionDeadline)}, final ${when(t.finalDeadline)}`,
          ...(t.resultsTimestamp > 0n
            ? [
                `digest:    ${t.resultDigest}`,
                `results:   ${t.results}`,
                `worker:    ${t.contributors.join(', ')}`,
              ]
            : []),
          ...(t.resultsLocation ? [`result:    ${t.resultsLocation}`] : []),
          ...(t.resultCheck
            ? [
                `stored result: ${t.resultCheck.status}${t.resultCheck.code ? ` [${t.resultCheck.code}]` : ''} (${t.resultCheck.message})`,
              ]
            : []),
          ...(t.workerStep !== null
            ? [`local worker: ${t.workerStep} (enclave runs: ${t.workerAttempts})`]
            : []),
          ...(t.failureCause ? [`cause:     [${t.failureCause.code}] ${t.failureCause.message}`] : []),
        ]);
      },
    ),
  );

  chainOptions(
    task
      .command('claim')
      .description('Claim a task after its final deadline (it becomes FAILED)')
      .argument('<taskid>'),
  ).action(
    action(async (ctx, o: ChainOpts, taskid: string) => {
      const r = await (
        await import('../../sdk/chain/deals.js')
      ).claimTaskById({ ...chainParams(ctx, o), taskid });
      ctx.out(r, [`claimed ${r.taskid}`, `tx: ${r.txHash}`]);
    }),
  );
}
