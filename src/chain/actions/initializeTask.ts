import type { Hex } from 'viem';
import { simulateContract, writeContract } from 'viem/actions';
import { hubAbi } from '../generated/hub.js';
import type { ChainWriter, TxResult } from '../types.js';
import { sendContractCall, txOf } from './internal/send.js';

/** initialize(dealid, index) by the workerpool owner → task ACTIVE; returns the taskid. */
export async function initializeTask(
  c: ChainWriter,
  dealid: Hex,
  index: bigint | number,
): Promise<TxResult & { taskid: Hex }> {
  const r = await sendContractCall(c, async (account, wallet) => {
    const { request, result } = await simulateContract(c.publicClient, {
      address: c.deployment.hub,
      abi: hubAbi,
      functionName: 'initialize',
      args: [dealid, BigInt(index)],
      account,
    });
    return { result, hash: await writeContract(wallet, request) };
  });
  return { taskid: r.result, ...txOf(r) };
}
