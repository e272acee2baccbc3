import type { Address, Hex } from 'viem';
import { readContract } from 'viem/actions';
import { hubAbi } from '../generated/hub.js';
import type { ReadClient } from '../types.js';

/** Consumed volume of an order hash (a cancelled order is fully consumed). */
export async function readConsumed(client: ReadClient, hub: Address, orderHash: Hex): Promise<bigint> {
  return readContract(client, { address: hub, abi: hubAbi, functionName: 'viewConsumed', args: [orderHash] });
}
