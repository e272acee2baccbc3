import { stringToHex, type Address, type Hex } from 'viem';
import { simulateContract, writeContract } from 'viem/actions';
import { appRegistryAbi } from '../generated/appRegistry.js';
import type { ChainWriter, TxResult } from '../types.js';
import { sendContractCall, txOf } from './internal/send.js';

export interface CreateAppParameters {
  /** Owner of the new app NFT (default: the sender). */
  owner?: Address;
  name: string;
  /** iExec app type (default "DOCKER"). */
  type?: string;
  /** Image URI (stored as UTF-8 bytes in `m_appMultiaddr`). */
  multiaddr: string;
  /** Image digest (bytes32), e.g. the sha256 of the image manifest. */
  checksum: Hex;
  /** `m_appMREnclave` JSON ({"framework":"SCONE","version","entrypoint","heapSize","fingerprint"}), or '' for a standard app. */
  mrenclave: string;
}

/** createApp on the app registry: a new app NFT, its address returned. */
export async function createApp(
  c: ChainWriter,
  p: CreateAppParameters,
): Promise<TxResult & { address: Address }> {
  const r = await sendContractCall(c, async (account, wallet) => {
    const { request, result } = await simulateContract(c.publicClient, {
      address: c.deployment.appRegistry,
      abi: appRegistryAbi,
      functionName: 'createApp',
      args: [
        p.owner ?? account.address,
        p.name,
        p.type ?? 'DOCKER',
        stringToHex(p.multiaddr),
        p.checksum,
        stringToHex(p.mrenclave),
      ],
      account,
    });
    return { result, hash: await writeContract(wallet, request) };
  });
  return { address: r.result, ...txOf(r) };
}
