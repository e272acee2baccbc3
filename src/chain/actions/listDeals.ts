/** Deals read from the chain itself: the hub's OrdersMatched events, then `viewDeal` of each. */
import { isAddressEqual, type Address, type Hex } from 'viem';
import { getContractEvents, readContract } from 'viem/actions';
import type { Deployment } from '../deployment.js';
import { decodeChainError } from '../errors.js';
import { hubAbi } from '../generated/hub.js';
import type { Deal, ReadClient } from '../types.js';

export interface ListDealsFilter {
  requester?: Address;
  app?: Address;
  dataset?: Address;
  workerpool?: Address;
}

export interface MatchedDeal extends Deal {
  appHash: Hex;
  datasetHash: Hex;
  workerpoolHash: Hex;
  requestHash: Hex;
  volume: bigint;
  blockNumber: bigint;
  txHash: Hex;
}

const same = (want: Address | undefined, got: Address) => !want || isAddressEqual(want, got);

/** Every deal of the hub since its deployment matching `filter`, oldest first. */
export async function listDeals(
  client: ReadClient,
  deployment: Deployment,
  filter: ListDealsFilter = {},
): Promise<MatchedDeal[]> {
  try {
    const logs = await getContractEvents(client, {
      address: deployment.hub,
      abi: hubAbi,
      eventName: 'OrdersMatched',
      fromBlock: BigInt(deployment.blockNumber),
      toBlock: 'latest',
    });
    const deals = await Promise.all(
      logs.map(async (l) => {
        const a = l.args as {
          dealid: Hex;
          appHash: Hex;
          datasetHash: Hex;
          workerpoolHash: Hex;
          requestHash: Hex;
          volume: bigint;
        };
        const d = await readContract(client, {
          address: deployment.hub,
          abi: hubAbi,
          functionName: 'viewDeal',
          args: [a.dealid],
        });
        return { ...d, ...a, blockNumber: l.blockNumber, txHash: l.transactionHash } as MatchedDeal;
      }),
    );
    return deals.filter(
      (d) =>
        same(filter.requester, d.requester) &&
        same(filter.app, d.app.pointer) &&
        same(filter.dataset, d.dataset.pointer) &&
        same(filter.workerpool, d.workerpool.pointer),
    );
  } catch (e) {
    throw decodeChainError(e);
  }
}
