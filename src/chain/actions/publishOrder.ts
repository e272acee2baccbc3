import type { Hex } from 'viem';
import { simulateContract, writeContract } from 'viem/actions';
import { hubAbi } from '../generated/hub.js';
import { hashOrder, type OrderByKind, type OrderKind } from '../orders.js';
import type { ChainWriter, TxResult } from '../types.js';
import { sendContractCall, txOf, type SimulateAndWrite } from './internal/send.js';

/** broadcast{App,Dataset,Workerpool,Request}Order, one typed call per kind. */
function broadcast(c: ChainWriter): { [K in OrderKind]: (order: OrderByKind[K]) => SimulateAndWrite<void> } {
  const hub = { address: c.deployment.hub, abi: hubAbi } as const;
  return {
    app: (order) => async (account, wallet) => {
      const { request } = await simulateContract(c.publicClient, {
        ...hub,
        functionName: 'broadcastAppOrder',
        args: [order],
        account,
      });
      return { result: undefined, hash: await writeContract(wallet, request) };
    },
    dataset: (order) => async (account, wallet) => {
      const { request } = await simulateContract(c.publicClient, {
        ...hub,
        functionName: 'broadcastDatasetOrder',
        args: [order],
        account,
      });
      return { result: undefined, hash: await writeContract(wallet, request) };
    },
    workerpool: (order) => async (account, wallet) => {
      const { request } = await simulateContract(c.publicClient, {
        ...hub,
        functionName: 'broadcastWorkerpoolOrder',
        args: [order],
        account,
      });
      return { result: undefined, hash: await writeContract(wallet, request) };
    },
    request: (order) => async (account, wallet) => {
      const { request } = await simulateContract(c.publicClient, {
        ...hub,
        functionName: 'broadcastRequestOrder',
        args: [order],
        account,
      });
      return { result: undefined, hash: await writeContract(wallet, request) };
    },
  };
}

/**
 * Publish an order on chain: presigns it and emits Broadcast*Order carrying the whole order.
 * Sent by the owner, or by anyone with an order signed by the owner.
 */
export async function publishOrder<K extends OrderKind>(
  c: ChainWriter,
  kind: K,
  order: OrderByKind[K],
): Promise<TxResult & { orderHash: Hex }> {
  const r = await sendContractCall(c, broadcast(c)[kind](order));
  return { orderHash: hashOrder(kind, order, c.deployment), ...txOf(r) };
}
