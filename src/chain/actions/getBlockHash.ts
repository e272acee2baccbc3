import type { Hex } from 'viem';
import { getBlock } from 'viem/actions';
import type { ReadClient } from '../types.js';

/** The hash of block `blockNumber`, or undefined when this chain has no such block. */
export async function getBlockHash(client: ReadClient, blockNumber: bigint): Promise<Hex | undefined> {
  try {
    return (await getBlock(client, { blockNumber })).hash;
  } catch {
    return undefined;
  }
}
