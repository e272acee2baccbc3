import type { Address } from 'viem';
import { simulateContract, writeContract } from 'viem/actions';
import { workerpoolRegistryAbi } from '../generated/workerpoolRegistry.js';
import type { ChainWriter, TxResult } from '../types.js';
import { sendContractCall, txOf } from './internal/send.js';

export interface CreateWorkerpoolParameters {
  /** Owner of the new workerpool NFT (default: the sender). */
  owner?: Address;
  description: string;
}

/** createWorkerpool on the workerpool registry: a new workerpool NFT, its address returned. */
export async function createWorkerpool(
  c: ChainWriter,
  p: CreateWorkerpoolParameters,
): Promise<TxResult & { address: Address }> {
  const r = await sendContractCall(c, async (account, wallet) => {
    const { request, result } = await simulateContract(c.publicClient, {
      address: c.deployment.workerpoolRegistry,
      abi: workerpoolRegistryAbi,
      functionName: 'createWorkerpool',
      args: [p.owner ?? account.address, p.description],
      account,
    });
    return { result, hash: await writeContract(wallet, request) };
  });
  return { address: r.result, ...txOf(r) };
}
