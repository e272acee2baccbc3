import { isAddressEqual, type Address, type Hex } from 'viem';
import { getBlock, getContractEvents } from 'viem/actions';
import { decodeChainError } from '../errors.js';
import { hubAbi } from '../generated/hub.js';
import type { ReadClient } from '../types.js';

export interface ReadSchedulerNoticesReturnType {
  /** Deals noticed for the workerpool (each once). */
  deals: Hex[];
  /** The latest block (below `fromBlock` when there is nothing new). */
  toBlock: bigint;
  toBlockHash: Hex;
}

/** Deals the hub noticed (`SchedulerNotice`) for `workerpool` in blocks [fromBlock, latest]. */
export async function readSchedulerNotices(
  client: ReadClient,
  hub: Address,
  p: { workerpool: Address; fromBlock: bigint },
): Promise<ReadSchedulerNoticesReturnType> {
  try {
    const latest = await getBlock(client, { blockTag: 'latest' });
    const toBlock = latest.number;
    if (toBlock < p.fromBlock) return { deals: [], toBlock, toBlockHash: latest.hash };
    const logs = await getContractEvents(client, {
      address: hub,
      abi: hubAbi,
      eventName: 'SchedulerNotice',
      args: { workerpool: p.workerpool },
      fromBlock: p.fromBlock,
      toBlock,
    });
    const deals = logs
      .filter((l) => l.args.workerpool && isAddressEqual(l.args.workerpool, p.workerpool))
      .flatMap((l) => (l.args.dealid ? [l.args.dealid] : []));
    return { deals: [...new Set(deals)], toBlock, toBlockHash: latest.hash };
  } catch (e) {
    throw decodeChainError(e);
  }
}
