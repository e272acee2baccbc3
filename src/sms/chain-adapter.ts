/**
 * The SMS's ChainReader over the chain module (viem). JSON-RPC calls made in the same tick are
 * batched into one HTTP request, which keeps fresh task reads cheap under concurrency.
 */
import { createPublicClient, http, type Address, type Hex, type PublicClient } from 'viem';
import { isSealworkError } from '../errors.js';
import {
  assetOwner,
  chainFor,
  readApp,
  readDataset,
  readDeal,
  readTask,
  TaskStatus,
} from '../chain/index.js';
import type { ChainReader, TaskStatusName } from './chain-reader.js';

/** undefined for "no such thing" errors; rethrow everything else (RPC down → 503). */
async function orUndefined<T>(p: Promise<T>, codes: string[]): Promise<T | undefined> {
  try {
    return await p;
  } catch (e) {
    if (isSealworkError(e) && codes.includes(e.code)) return undefined;
    throw e;
  }
}

export function chainReaderFromClient(client: PublicClient, hub: Address): ChainReader {
  return {
    owner: (a) =>
      orUndefined(assetOwner(client, a), ['ASSET_NOT_FOUND', 'ADDRESS_INVALID', 'CHAIN_REVERTED']),
    async app(a) {
      const r = await orUndefined(readApp(client, a), ['ASSET_NOT_FOUND', 'ADDRESS_INVALID']);
      return (
        r && { address: r.address, multiaddr: r.multiaddr, checksum: r.checksum, mrenclave: r.mrenclave }
      );
    },
    async dataset(a) {
      const r = await orUndefined(readDataset(client, a), ['ASSET_NOT_FOUND', 'ADDRESS_INVALID']);
      return r && { address: r.address, name: r.name, multiaddr: r.multiaddr, checksum: r.checksum };
    },
    async deal(id: Hex) {
      const d = await orUndefined(readDeal(client, hub, id), ['DEAL_NOT_FOUND']);
      return (
        d && {
          dealId: d.dealid,
          app: d.app.pointer,
          dataset: d.dataset.pointer,
          workerpool: d.workerpool.pointer,
          workerpoolOwner: d.workerpool.owner,
          requester: d.requester,
          beneficiary: d.beneficiary,
          tag: d.tag,
          params: d.params,
        }
      );
    },
    async task(id: Hex) {
      // An id no deal produced and a task not yet initialized both read as UNSET (dealid zero).
      const t = await readTask(client, hub, id);
      return {
        taskId: id,
        dealId: t.dealid,
        index: t.idx,
        status: (TaskStatus[t.status] ?? 'UNSET') as TaskStatusName,
        finalDeadline: Number(t.finalDeadline),
      };
    },
  };
}

/** A batched public client for `url` (chain id probed by the caller). */
export function batchedClient(url: string, chainId: number): PublicClient {
  return createPublicClient({
    chain: chainFor(chainId, url),
    transport: http(url, { batch: { batchSize: 500, wait: 0 }, retryCount: 1 }),
  }) as PublicClient;
}
