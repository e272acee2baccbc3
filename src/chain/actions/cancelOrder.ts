import type { Hex } from 'viem';
import { simulateContract, writeContract } from 'viem/actions';
import { hubAbi } from '../generated/hub.js';
import { hashOrder, type OrderByKind, type OrderKind } from '../orders.js';
import type { ChainWriter, TxResult } from '../types.js';
import { sendContractCall, txOf, type SimulateAndWrite } from './internal/send.js';

/** PoCo's OrderOperation: 1 = CLOSE (the order's volume becomes fully consumed). */
const CLOSE = 1;

/** manage{App,Dataset,Workerpool,Request}Order(CLOSE), one typed call per kind. */
function close(c: ChainWriter): { [K in OrderKind]: (order: OrderByKind[K]) => SimulateAndWrite<void> } {
  const hub = { address: c.deployment.hub, abi: hubAbi } as const;
  return {
    app: (order) => async (account, wallet) => {
      const { request } = await simulateContract(c.publicClient, {
        ...hub,
        functionName: 'manageAppOrder',
        args: [{ order, operation: CLOSE, sign: '0x' }],
        account,
      });
      return { result: undefined, hash: await writeContract(wallet, request) };
    },
    dataset: (order) => async (account, wallet) => {
      const { request } = await simulateContract(c.publicClient, {
        ...hub,
        functionName: 'manageDatasetOrder',
        args: [{ order, operation: CLOSE, sign: '0x' }],
        account,
      });
      return { result: undefined, hash: await writeContract(wallet, request) };
    },
    workerpool: (order) => async (account, wallet) => {
      const { request } = await simulateContract(c.publicClient, {
        ...hub,
        functionName: 'manageWorkerpoolOrder',
        args: [{ order, operation: CLOSE, sign: '0x' }],
        account,
      });
      return { result: undefined, hash: await writeContract(wallet, request) };
    },
    request: (order) => async (account, wallet) => {
      const { request } = await simulateContract(c.publicClient, {
        ...hub,
        functionName: 'manageRequestOrder',
        args: [{ order, operation: CLOSE, sign: '0x' }],
        account,
      });
      return { result: undefined, hash: await writeContract(wallet, request) };
    },
  };
}

/** Cancel an order on chain (owner only): its volume becomes fully consumed. */
export async function cancelOrder<K extends OrderKind>(
  c: ChainWriter,
  kind: K,
  order: OrderByKind[K],
): Promise<TxResult & { orderHash: Hex }> {
  const r = await sendContractCall(c, close(c)[kind](order));
  return { orderHash: hashOrder(kind, order, c.deployment), ...txOf(r) };
}
