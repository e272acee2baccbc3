import type { Address } from 'viem';
import { readContract } from 'viem/actions';
import { appRegistryAbi } from '../generated/appRegistry.js';
import type { ReadClient } from '../types.js';

/**
 * Is `address` registered in this registry? Named for the app registry; the dataset and
 * workerpool registries share the same `isRegistered(address)`.
 */
export async function isRegisteredApp(
  client: ReadClient,
  appRegistry: Address,
  address: Address,
): Promise<boolean> {
  return readContract(client, {
    address: appRegistry,
    abi: appRegistryAbi,
    functionName: 'isRegistered',
    args: [address],
  });
}
