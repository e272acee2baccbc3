import type { Address } from 'viem';
import { readContract } from 'viem/actions';
import { workerpoolAbi } from '../generated/workerpool.js';
import type { ReadClient, WorkerpoolInfo } from '../types.js';
import { assertAddress, hasCode, notAsset, notFound } from './internal/asset.js';

/** A workerpool's getters: owner, registry, description. */
export async function readWorkerpool(client: ReadClient, address: Address): Promise<WorkerpoolInfo> {
  assertAddress(address, 'workerpool');
  if (!(await hasCode(client, address))) throw notFound('workerpool', address);
  try {
    const r = (functionName: 'owner' | 'registry' | 'm_workerpoolDescription') =>
      readContract(client, { address, abi: workerpoolAbi, functionName });
    const [owner, registry, description] = await Promise.all([
      r('owner'),
      r('registry'),
      r('m_workerpoolDescription'),
    ]);
    return {
      address,
      owner: owner as Address,
      registry: registry as Address,
      description: description as string,
    };
  } catch (e) {
    throw notAsset('workerpool', address, e);
  }
}
