/** Deals and tasks: match orders, show a deal with its tasks, show a task. */
import type { Hex } from 'viem';
import {
  claimTask,
  computeTaskId,
  matchOrders,
  readDeal,
  readTask,
  taskStatusName,
  type Deal,
  type MatchOrdersReturnType,
  type Task,
} from '../../chain/index.js';
import { SealworkError } from '../../errors.js';
import { connect, type ChainParameters } from './common.js';
import { assertOrderDomain, readOrderFile } from './orders.js';

export interface MatchDealParameters extends ChainParameters {
  appOrder: string;
  /** Omit for a request without a dataset. */
  datasetOrder?: string;
  workerpoolOrder: string;
  requestOrder: string;
  /** List at most this many task ids (default 100; the deal may hold more). */
  maxTasks?: number;
}

/** Default number of tasks listed by matchDeal/showDeal (a deal's volume can be large). */
export const MAX_LISTED_TASKS = 100;

function taskIds(dealid: Hex, botFirst: bigint, botSize: bigint, max = MAX_LISTED_TASKS) {
  const n = botSize < BigInt(max) ? Number(botSize) : max;
  return Array.from({ length: n }, (_, i) => ({
    index: botFirst + BigInt(i),
    taskid: computeTaskId(dealid, botFirst + BigInt(i)),
  }));
}

/** Match four order files into a deal (any wallet may send it). */
export async function matchDeal(p: MatchDealParameters): Promise<MatchOrdersReturnType & { taskids: Hex[] }> {
  const app = await readOrderFile(p.appOrder, 'app');
  const dataset = p.datasetOrder ? await readOrderFile(p.datasetOrder, 'dataset') : undefined;
  const workerpool = await readOrderFile(p.workerpoolOrder, 'workerpool');
  const request = await readOrderFile(p.requestOrder, 'request');
  const c = await connect(p, true);
  assertOrderDomain(app, c.deployment, p.appOrder);
  if (dataset && p.datasetOrder) assertOrderDomain(dataset, c.deployment, p.datasetOrder);
  assertOrderDomain(workerpool, c.deployment, p.workerpoolOrder);
  assertOrderDomain(request, c.deployment, p.requestOrder);
  const r = await matchOrders(c, {
    app: app.order,
    dataset: dataset?.order,
    workerpool: workerpool.order,
    request: request.order,
  });
  const taskids = taskIds(r.dealid, r.botFirst, r.volume, p.maxTasks).map((t) => t.taskid);
  return { ...r, taskids };
}

function hex32(v: string, what: string): Hex {
  if (!/^0x[0-9a-fA-F]{64}$/.test(v))
    throw new SealworkError('ID_INVALID', `${v} is not a ${what} (0x + 64 hex digits).`);
  return v as Hex;
}

export interface ShowDealReturnType extends Deal {
  tasks: { taskid: Hex; index: bigint; status: string }[];
}

/** A deal and the status of its first `maxTasks` tasks (default 100; `botSize` is the total). */
export async function showDeal(
  p: ChainParameters & { dealid: string; maxTasks?: number },
): Promise<ShowDealReturnType> {
  const c = await connect(p);
  const deal = await readDeal(c.publicClient, c.deployment.hub, hex32(p.dealid, 'deal id'));
  const tasks = await Promise.all(
    taskIds(deal.dealid, deal.botFirst, deal.botSize, p.maxTasks).map(async ({ taskid, index }) => {
      const t = await readTask(c.publicClient, c.deployment.hub, taskid);
      return { taskid, index, status: taskStatusName(t.status) };
    }),
  );
  return { ...deal, tasks };
}

export async function showTask(
  p: ChainParameters & { taskid: string },
): Promise<Task & { statusName: string }> {
  const c = await connect(p);
  const t = await readTask(c.publicClient, c.deployment.hub, hex32(p.taskid, 'task id'));
  return { ...t, statusName: taskStatusName(t.status) };
}

/** Claim a task after its final deadline (any wallet): the task becomes FAILED. */
export async function claimTaskById(
  p: ChainParameters & { taskid: string },
): Promise<{ taskid: Hex; txHash: Hex }> {
  const c = await connect(p, true);
  const taskid = hex32(p.taskid, 'task id');
  const r = await claimTask(c, taskid);
  return { taskid, txHash: r.txHash };
}
