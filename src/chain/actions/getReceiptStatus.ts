import type { Hex } from 'viem';
import { getTransactionReceipt } from 'viem/actions';
import type { ReadClient } from '../types.js';

/** The receipt status of a transaction sent earlier: undefined when the node does not know it (yet). */
export async function getReceiptStatus(
  client: ReadClient,
  hash: Hex,
): Promise<'success' | 'reverted' | undefined> {
  try {
    return (await getTransactionReceipt(client, { hash })).status;
  } catch {
    return undefined;
  }
}
