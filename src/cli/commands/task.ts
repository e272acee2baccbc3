/** `sealwork task`: show a task (on chain, and from this home's worker journal), verify its trust chain, claim it. */
import type { Command } from 'commander';
import type { VerifyTaskReport } from '../../sdk/task/verify.js';
import { action } from '../context.js';
import { chainOptions, chainParams, collect, when, type ChainOpts } from '../options.js';

type VerifyOpts = ChainOpts & {
  smsUrl?: string;
  smsCa?: string;
  receipt?: string;
  receiptFrom?: 'result' | 'sms';
  key?: string;
  storageCa?: string;
  acceptTcb?: string[];
  allowSimulation?: boolean;
};

/** The report as text: one line per link, pass/fail, and the values compared. */
function verifyLines(r: VerifyTaskReport): string[] {
  const sim = r.simulated ? ' [SIMULATED platform: no confidentiality against the host]' : '';
  const lines = [`task ${r.taskId}`, `receipt: ${r.receiptSource ?? 'none found'}`];
  for (const l of r.links) {
    lines.push(`${l.ok ? 'PASS' : 'FAIL'}  ${l.name}: ${l.title}${l.simulated ? ' [simulated]' : ''}`);
    if (l.expected !== undefined) lines.push(`        expected ${l.expected}`);
    if (l.actual !== undefined) lines.push(`        actual   ${l.actual}`);
    lines.push(`        ${l.detail}`);
  }
  const failed = r.links.filter((l) => !l.ok).length;
  lines.push(
    r.ok
      ? `VERIFIED: every link of the task's trust chain holds${sim}`
      : `NOT VERIFIED: ${failed} of ${r.links.length} links fail${sim}`,
  );
  return lines;
}

function registerVerify(task: Command): void {
  chainOptions(
    task
      .command('verify')
      .description(
        "Verify a task's whole trust chain: deal, app fingerprint, dataset restriction, the SMS's release receipt, the enclave, its result signature, the stored result, the SMS's attestation",
      )
      .argument('<taskid>')
      .option('--sms-url <url>', 'SMS URL (env SEALWORK_SMS_URL, default: the local SMS)')
      .option('--sms-ca <file>', 'the pinned SMS certificate (env SEALWORK_SMS_CA, default: the local SMS’s)')
      .option('--receipt <file>', 'read the release receipt from this file')
      .option('--receipt-from <where>', 'result (beside the result, else the SMS) or sms', 'result')
      .option('--key <file>', 'the beneficiary RSA private key (PEM): check an encrypted result’s digest')
      .option('--storage-ca <cert.pem>', 'certificate of the result storage (default: the local storage’s)')
      .option(
        '--accept-tcb <status>',
        'accepted TCB status of the app enclave (repeatable; default UpToDate)',
        collect,
      )
      .option('--allow-simulation', 'accept a simulated platform (the local stack’s); still reported'),
  ).action(
    action(async (ctx, o: VerifyOpts, taskid: string) => {
      const { verifyTask, verifyRefusal } = await import('../../sdk/task/verify.js');
      const report = await verifyTask({
        ...chainParams(ctx, o),
        taskId: taskid,
        ...(o.smsUrl ? { smsUrl: o.smsUrl } : {}),
        ...(o.smsCa ? { smsCa: o.smsCa } : {}),
        ...(o.receipt ? { receiptFile: o.receipt } : {}),
        ...(o.receiptFrom === 'sms' ? { receiptFrom: 'sms' as const } : {}),
        ...(o.key ? { keyFile: o.key } : {}),
        ...(o.storageCa ? { caFile: o.storageCa } : {}),
        ...(o.acceptTcb?.length ? { acceptedTcb: o.acceptTcb } : {}),
        ...(o.allowSimulation ? { allowSimulation: true } : {}),
      });
      const refusal = verifyRefusal(report);
      if (!refusal) {
        ctx.out(report, () => verifyLines(report));
        return;
      }
      // Not verified: print the report (text), then fail with a stable code (JSON: the report is in details).
      if (!ctx.json) process.stdout.write(`${verifyLines(report).join('\n')}\n`);
      throw refusal;
    }),
  );
}

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
  network?: string[];
}): string[] {
  const status = r.timedOut ? 'timed out' : `exit ${r.exitCode ?? r.signal}`;
  return [
    `task ${r.taskId}: ${status}${r.truncated ? ' (logs truncated: the end is kept)' : ''}`,
    '--- stdout',
    ...(r.stdout ? r.stdout.trimEnd().split('\n') : []),
    '--- stderr',
    ...(r.stderr ? r.stderr.trimEnd().split('\n') : []),
    ...(r.network?.length ? ['--- network shield', ...r.network] : []),
  ];
}

export function register(program: Command): void {
  const task = program.command('task').description('Tasks: show status and results, verify the trust chain');
  logsCommand(task);
  registerVerify(task);
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
