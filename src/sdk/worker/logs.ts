/**
 * `sealwork task logs <task>`: the app's stdout/stderr as the worker captured them, asked of the
 * worker with an EIP-712 signature by the requester's wallet (src/protocol/task-logs.ts).
 */
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import type { Hex } from 'viem';
import { SealworkError, isErrorCode } from '../../errors.js';
import { taskLogsTypedData } from '../../protocol/task-logs.js';
import { resolveHome } from '../../util/home.js';
import { httpCall } from '../../worker/fetch.js';
import type { TaskLogs } from '../../worker/logs.js';
import { connect, type ChainParameters } from '../chain/common.js';

export type { TaskLogs } from '../../worker/logs.js';

export interface TaskLogsParameters extends ChainParameters {
  taskId: Hex;
  /** The worker's logs API (default: the one the worker of this home recorded). */
  workerUrl?: string;
  /** PEM file of the worker's certificate to trust (default: the recorded one). */
  workerCa?: string;
}

async function endpoint(p: TaskLogsParameters): Promise<{ url: string; ca: string[] }> {
  const home = resolveHome(p.home);
  const file = join(home, 'worker', 'logs-endpoint.json');
  const rec = await fs
    .readFile(file, 'utf8')
    .then((t) => JSON.parse(t) as { url: string; certPath?: string })
    .catch(() => undefined);
  const url = p.workerUrl ?? rec?.url;
  if (!url)
    throw new SealworkError('WORKER_API_NOT_RUNNING', `No worker logs endpoint is recorded in ${file}.`, {
      hint: 'Start the worker on this home (`sealwork dev` or `sealwork worker start`), or give --worker-url.',
    });
  const caFile = p.workerCa ?? rec?.certPath;
  return { url, ca: caFile ? [await fs.readFile(caFile, 'utf8')] : [] };
}

/** Ask the worker for a task's logs, signed by the requester's wallet. */
export async function taskLogs(p: TaskLogsParameters): Promise<TaskLogs & { worker: string }> {
  const c = await connect(p, true);
  const account = c.account!;
  const taskId = p.taskId.toLowerCase() as Hex;
  const issuedAt = Math.floor(Date.now() / 1000);
  const signature = await account.signTypedData!(
    taskLogsTypedData(c.deployment.chainId, { taskId, requester: account.address, issuedAt }),
  );
  const ep = await endpoint(p);
  const r = await httpCall(new URL(`/tasks/${taskId}/logs`, ep.url), {
    method: 'POST',
    body: Buffer.from(JSON.stringify({ requester: account.address, issuedAt, signature })),
    headers: { 'content-type': 'application/json' },
    ca: ep.ca,
    maxBytes: 1024 * 1024,
    timeoutMs: 15_000,
  }).catch((e) => {
    throw new SealworkError(
      'WORKER_API_NOT_RUNNING',
      `The worker's logs endpoint ${ep.url} does not answer.`,
      {
        hint: 'Is the worker running? Give --worker-url if it runs elsewhere.',
        cause: e,
      },
    );
  });
  const body = JSON.parse(r.body.toString('utf8') || '{}') as TaskLogs & {
    error?: { code: string; message: string };
  };
  if (r.status !== 200) {
    const code = body.error && isErrorCode(body.error.code) ? body.error.code : 'TASK_LOGS_REFUSED';
    throw new SealworkError(code, `The worker refused: ${body.error?.message ?? `HTTP ${r.status}`}`, {
      hint:
        code === 'TASK_LOGS_REFUSED'
          ? "Only the task's requester reads its logs: sign with the requester's wallet (--as requester, SEALWORK_PRIVATE_KEY)."
          : undefined,
      details: { status: r.status },
    });
  }
  return { ...body, worker: ep.url };
}
