import { decodeFunctionData, type Address, type Hex } from 'viem';
import { getContractEvents, getTransaction } from 'viem/actions';
import { SealworkError } from '../../errors.js';
import { decodeChainError } from '../errors.js';
import { hubAbi } from '../generated/hub.js';
import type { AppOrder, DatasetOrder, RequestOrder, WorkerpoolOrder } from '../orders.js';
import type { ReadClient } from '../types.js';

/** The four orders a deal was matched from, with the hashes the hub recorded for them. */
export interface DealOrders {
  txHash: Hex;
  blockNumber: bigint;
  app: AppOrder;
  dataset: DatasetOrder;
  workerpool: WorkerpoolOrder;
  request: RequestOrder;
  hashes: { app: Hex; dataset: Hex; workerpool: Hex; request: Hex };
}

/**
 * The orders of a deal, read from the calldata of the `matchOrders` transaction that emitted its
 * `OrdersMatched` event (searched from `fromBlock`). Undefined when no such event exists;
 * DEAL_ORDERS_UNREADABLE when that transaction is not a direct `matchOrders` call.
 */
export async function readDealOrders(
  client: ReadClient,
  hub: Address,
  dealid: Hex,
  o: { fromBlock?: bigint } = {},
): Promise<DealOrders | undefined> {
  let tx;
  let log;
  try {
    const logs = await getContractEvents(client, {
      address: hub,
      abi: hubAbi,
      eventName: 'OrdersMatched',
      fromBlock: o.fromBlock ?? 0n,
      toBlock: 'latest',
    });
    log = logs.find((l) => l.args.dealid?.toLowerCase() === dealid.toLowerCase());
    if (!log?.transactionHash) return undefined;
    tx = await getTransaction(client, { hash: log.transactionHash });
  } catch (e) {
    throw decodeChainError(e);
  }
  let decoded;
  try {
    decoded = decodeFunctionData({ abi: hubAbi, data: tx.input });
  } catch {
    decoded = undefined;
  }
  if (decoded?.functionName !== 'matchOrders')
    throw new SealworkError(
      'DEAL_ORDERS_UNREADABLE',
      `Transaction ${tx.hash} made deal ${dealid} but is not a direct matchOrders call: its orders cannot be read.`,
      { details: { txHash: tx.hash } },
    );
  const [app, dataset, workerpool, request] = decoded.args;
  const a = log.args;
  return {
    txHash: tx.hash,
    blockNumber: log.blockNumber ?? 0n,
    app: app as AppOrder,
    dataset: dataset as DatasetOrder,
    workerpool: workerpool as WorkerpoolOrder,
    request: request as RequestOrder,
    hashes: {
      app: a.appHash!,
      dataset: a.datasetHash!,
      workerpool: a.workerpoolHash!,
      request: a.requestHash!,
    },
  };
}
