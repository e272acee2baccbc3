import { getBlock } from 'viem/actions';
import { decodeChainError } from '../errors.js';
import type { ReadClient } from '../types.js';

/** The chain's clock: the latest block's timestamp (Unix seconds), what deadlines compare with. */
export async function getChainTime(client: ReadClient): Promise<bigint> {
  try {
    return (await getBlock(client, { blockTag: 'latest' })).timestamp;
  } catch (e) {
    throw decodeChainError(e);
  }
}
