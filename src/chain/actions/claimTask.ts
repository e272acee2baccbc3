import type { Hex } from 'viem';
import { simulateContract, writeContract } from 'viem/actions';
import { hubAbi } from '../generated/hub.js';
import type { ChainWriter, TxResult } from '../types.js';
import { sendContractCall, txOf } from './internal/send.js';

/** claim(taskid) after the final deadline → task FAILED. */
export async function claimTask(c: ChainWriter, taskid: Hex): Promise<TxResult> {
  const r = await sendContractCall(c, async (account, wallet) => {
    const { request, result } = await simulateContract(c.publicClient, {
      address: c.deployment.hub,
      abi: hubAbi,
      functionName: 'claim',
      args: [taskid],
      account,
    });
    return { result, hash: await writeContract(wallet, request) };
  });
  return txOf(r);
}
