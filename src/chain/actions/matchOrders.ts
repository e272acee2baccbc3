import { parseEventLogs, type Hex } from 'viem';
import { readContract, simulateContract, writeContract } from 'viem/actions';
import { SealworkError } from '../../errors.js';
import { hubAbi } from '../generated/hub.js';
import {
  emptyDatasetOrder,
  type AppOrder,
  type DatasetOrder,
  type RequestOrder,
  type WorkerpoolOrder,
} from '../orders.js';
import type { ChainWriter, TxResult } from '../types.js';
import { sendContractCall, txOf } from './internal/send.js';

export interface MatchOrdersParameters {
  app: AppOrder;
  /** Omit for a request without a dataset. */
  dataset?: DatasetOrder;
  workerpool: WorkerpoolOrder;
  request: RequestOrder;
}

export interface MatchOrdersReturnType extends TxResult {
  dealid: Hex;
  volume: bigint;
  botFirst: bigint;
  appHash: Hex;
  datasetHash: Hex;
  workerpoolHash: Hex;
  requestHash: Hex;
}

/** matchOrders: creates a deal (dealid = keccak256(requestHash ‖ consumedBefore)). */
export async function matchOrders(c: ChainWriter, p: MatchOrdersParameters): Promise<MatchOrdersReturnType> {
  const hub = c.deployment.hub;
  const r = await sendContractCall(c, async (account, wallet) => {
    const { request, result } = await simulateContract(c.publicClient, {
      address: hub,
      abi: hubAbi,
      functionName: 'matchOrders',
      args: [p.app, p.dataset ?? emptyDatasetOrder(), p.workerpool, p.request],
      account,
    });
    return { result, hash: await writeContract(wallet, request) };
  });
  const [ev] = parseEventLogs({ abi: hubAbi, logs: r.receipt.logs, eventName: 'OrdersMatched' });
  if (!ev) throw new SealworkError('CHAIN_ERROR', 'matchOrders emitted no OrdersMatched event.');
  const deal = await readContract(c.publicClient, {
    address: hub,
    abi: hubAbi,
    functionName: 'viewDeal',
    args: [ev.args.dealid],
  });
  return {
    dealid: ev.args.dealid,
    volume: ev.args.volume,
    botFirst: deal.botFirst,
    appHash: ev.args.appHash,
    datasetHash: ev.args.datasetHash,
    workerpoolHash: ev.args.workerpoolHash,
    requestHash: ev.args.requestHash,
    ...txOf(r),
  };
}
