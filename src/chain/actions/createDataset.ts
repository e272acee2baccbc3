import { stringToHex, type Address, type Hex } from 'viem';
import { simulateContract, writeContract } from 'viem/actions';
import { datasetRegistryAbi } from '../generated/datasetRegistry.js';
import type { ChainWriter, TxResult } from '../types.js';
import { sendContractCall, txOf } from './internal/send.js';

export interface CreateDatasetParameters {
  owner?: Address;
  name: string;
  /** URL of the encrypted dataset (stored as UTF-8 bytes). */
  multiaddr: string;
  /** `0x` + sha256 of the encrypted file. */
  checksum: Hex;
}

/** createDataset on the dataset registry: a new dataset NFT, its address returned. */
export async function createDataset(
  c: ChainWriter,
  p: CreateDatasetParameters,
): Promise<TxResult & { address: Address }> {
  const r = await sendContractCall(c, async (account, wallet) => {
    const { request, result } = await simulateContract(c.publicClient, {
      address: c.deployment.datasetRegistry,
      abi: datasetRegistryAbi,
      functionName: 'createDataset',
      args: [p.owner ?? account.address, p.name, stringToHex(p.multiaddr), p.checksum],
      account,
    });
    return { result, hash: await writeContract(wallet, request) };
  });
  return { address: r.result, ...txOf(r) };
}
