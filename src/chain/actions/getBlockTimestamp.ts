import { getBlock } from 'viem/actions';
import { decodeChainError } from '../errors.js';
import type { ReadClient } from '../types.js';

/** The timestamp (seconds) of a block. */
export async function getBlockTimestamp(client: ReadClient, blockNumber: bigint): Promise<bigint> {
  try {
    return (await getBlock(client, { blockNumber })).timestamp;
  } catch (e) {
    throw decodeChainError(e);
  }
}
