import { zeroAddress, type Address, type Hex } from 'viem';
import { readContract } from 'viem/actions';
import { SealworkError } from '../../errors.js';
import { decodeChainError } from '../errors.js';
import { hubAbi } from '../generated/hub.js';
import type { Deal, ReadClient } from '../types.js';

/** A deal (`viewDeal`); DEAL_NOT_FOUND when the hub has none with this id. */
export async function readDeal(client: ReadClient, hub: Address, dealid: Hex): Promise<Deal> {
  let d;
  try {
    d = await readContract(client, { address: hub, abi: hubAbi, functionName: 'viewDeal', args: [dealid] });
  } catch (e) {
    throw decodeChainError(e);
  }
  if (d.app.pointer === zeroAddress)
    throw new SealworkError('DEAL_NOT_FOUND', `There is no deal ${dealid} on this chain.`, {
      hint: 'Check the deal id and the chain.',
      details: { dealid },
    });
  return { dealid, ...d };
}
