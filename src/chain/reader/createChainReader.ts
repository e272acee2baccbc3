/**
 * A ChainReader (types.ts) over the chain actions. JSON-RPC calls made in the same tick are
 * batched into one HTTP request, which keeps fresh reads cheap under concurrency; task status can
 * go over the raw batched transport (rawTaskTransport.ts) instead of viem.
 */
import { createPublicClient, http, type Address, type Hex, type PublicClient } from 'viem';
import { isSealworkError } from '../../errors.js';
import { assetOwner } from '../actions/assetOwner.js';
import { readApp } from '../actions/readApp.js';
import { readDataset } from '../actions/readDataset.js';
import { readDeal } from '../actions/readDeal.js';
import { readTask } from '../actions/readTask.js';
import { chainFor } from '../clients.js';
import { TaskStatus, type ReadClient, type TaskStatusName } from '../types.js';
import { rawTaskReader } from './rawTaskTransport.js';
import type { ChainReader } from './types.js';

/** undefined for "no such thing" errors; rethrow everything else (RPC down → 503). */
async function orUndefined<T>(p: Promise<T>, codes: string[]): Promise<T | undefined> {
  try {
    return await p;
  } catch (e) {
    if (isSealworkError(e) && codes.includes(e.code)) return undefined;
    throw e;
  }
}

export function chainReaderFromClient(client: ReadClient, hub: Address): ChainReader {
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
  });
}

export interface CreateChainReaderParameters {
  url: string;
  chainId: number;
  hub: Address;
  /**
   * How task status is read: `raw` (default for http(s) URLs) sends `viewTask` as a raw, batched,
   * keep-alive `eth_call`; `client` reads it through viem like everything else.
   */
  taskTransport?: 'raw' | 'client';
}

/** The chain reads of a read-only service: a batched viem client, task status over `taskTransport`. */
export function createChainReader(p: CreateChainReaderParameters): ChainReader & { close(): void } {
  const viaClient = chainReaderFromClient(batchedClient(p.url, p.chainId), p.hub);
  const raw = (p.taskTransport ?? 'raw') === 'raw' && /^https?:/i.test(p.url);
  if (!raw) return { ...viaClient, close() {} };
  const tasks = rawTaskReader(p.url, p.hub);
  return { ...viaClient, task: (id) => tasks.task(id), close: () => tasks.close() };
}
