import type { Address, Hex } from 'viem';
import { readContract } from 'viem/actions';
import { datasetAbi } from '../generated/dataset.js';
import type { DatasetInfo, ReadClient } from '../types.js';
import { assertAddress, bytesText, hasCode, notAsset, notFound } from './internal/asset.js';

/** A dataset's getters: owner, registry, name, encrypted file URL and checksum. */
export async function readDataset(client: ReadClient, address: Address): Promise<DatasetInfo> {
  assertAddress(address, 'dataset');
  if (!(await hasCode(client, address))) throw notFound('dataset', address);
  try {
    const r = (
      functionName: 'owner' | 'registry' | 'm_datasetName' | 'm_datasetMultiaddr' | 'm_datasetChecksum',
    ) => readContract(client, { address, abi: datasetAbi, functionName });
    const [owner, registry, name, multiaddr, checksum] = await Promise.all([
      r('owner'),
      r('registry'),
      r('m_datasetName'),
      r('m_datasetMultiaddr'),
      r('m_datasetChecksum'),
    ]);
    return {
      address,
      owner: owner as Address,
      registry: registry as Address,
      name: name as string,
      multiaddr: bytesText(multiaddr as Hex),
      checksum: checksum as Hex,
    };
  } catch (e) {
    throw notAsset('dataset', address, e);
  }
}
