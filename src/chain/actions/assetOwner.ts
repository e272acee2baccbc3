import type { Address } from 'viem';
import { readContract } from 'viem/actions';
import { decodeChainError } from '../errors.js';
import { appAbi } from '../generated/app.js';
import type { ReadClient } from '../types.js';
import { assertAddress, hasCode, notFound } from './internal/asset.js';

/** The NFT owner of an asset (its `owner()`; apps, datasets and workerpools share it). */
export async function assetOwner(client: ReadClient, address: Address): Promise<Address> {
  assertAddress(address, 'asset');
  if (!(await hasCode(client, address))) throw notFound('asset', address);
  try {
    return await readContract(client, { address, abi: appAbi, functionName: 'owner' });
  } catch (e) {
    throw decodeChainError(e);
  }
}
