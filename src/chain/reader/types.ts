/**
 * The chain reads of a service that only reads (the SMS), behind a small interface: each returns
 * undefined for "no such thing" and throws when the node cannot answer. Immutable data (an app's
 * fingerprint, a dataset's URL and checksum, a deal) may be cached (cachedChainReader.ts);
 * ownership and task status are always read fresh. Built by createChainReader.ts.
 */
import type { Address, Hex } from 'viem';
import type { TaskStatusName } from '../types.js';

export interface ChainTaskInfo {
  taskId: Hex;
  dealId: Hex;
  index: bigint;
  status: TaskStatusName;
  /** Unix seconds after which the task can only be claimed. */
  finalDeadline: number;
}

export interface ChainDealInfo {
  dealId: Hex;
  app: Address;
  /** Zero address when the deal has no dataset. */
  dataset: Address;
  workerpool: Address;
  /** The workerpool owner recorded at deal time, when the chain records it (PoCo does). */
  workerpoolOwner?: Address;
  requester: Address;
  beneficiary: Address;
  /** bytes32 tag; bit 0 = TEE. */
  tag: Hex;
  /** The request order's params JSON (`iexec_args`, `iexec_input_files`, `iexec_secrets`, …). */
  params: string;
}

export interface ChainAppInfo {
  address: Address;
  multiaddr: string;
  checksum: Hex;
  /** `m_appMREnclave` as UTF-8 (the SCONE JSON with the fingerprint). */
  mrenclave: string;
}

export interface ChainDatasetInfo {
  address: Address;
  name: string;
  multiaddr: string;
  checksum: Hex;
}

export interface ChainReader {
  /** `owner()` of an app, dataset or workerpool; undefined when there is no such asset. */
  owner(asset: Address): Promise<Address | undefined>;
  app(address: Address): Promise<ChainAppInfo | undefined>;
  dataset(address: Address): Promise<ChainDatasetInfo | undefined>;
  deal(dealId: Hex): Promise<ChainDealInfo | undefined>;
  task(taskId: Hex): Promise<ChainTaskInfo | undefined>;
}

/** Counters of what the cache saved (for the benchmark's breakdown). */
export interface ChainReaderStats {
  calls: Record<keyof ChainReader, number>;
  cacheHits: number;
}
