/**
 * What the chain functions take and return: the client types (viem's generic `Client`, so any
 * public, wallet or test client fits), PoCo v5's task statuses, and the views of apps, datasets,
 * workerpools, deals and tasks, field for field as the contracts return them.
 */
import type { Account, Address, Chain, Client, Hex, Transport } from 'viem';
import type { MrEnclave, TaskStatus } from '../protocol/index.js';

// Task statuses and the mrenclave JSON are protocol rules (src/protocol).
export { TaskStatus, taskStatusName, type TaskStatusName, type MrEnclave } from '../protocol/index.js';

/** Any viem client that can read (a PublicClient, a WalletClient, a TestClient). */
export type ReadClient = Client<Transport, Chain | undefined>;

/** Any viem client that may hold an account (writes check it has one). */
export type SignerClient = Client<Transport, Chain | undefined, Account | undefined>;

/** What a write needs: a client to simulate and wait with, a signer, and the deployment. */
export interface ChainWriter {
  publicClient: ReadClient;
  walletClient: SignerClient | undefined;
  deployment: Deployment;
}

export interface TxResult {
  txHash: Hex;
  gasUsed: bigint;
  blockNumber: bigint;
}

export interface AppInfo {
  address: Address;
  owner: Address;
  registry: Address;
  name: string;
  type: string;
  /** The image URI (`m_appMultiaddr` as UTF-8). */
  multiaddr: string;
  checksum: Hex;
  /** `m_appMREnclave` as UTF-8 (raw). */
  mrenclave: string;
  /** `mrenclave` parsed ({framework, version, entrypoint, heapSize, fingerprint}), if JSON. */
  enclave: MrEnclave | undefined;
}

export interface DatasetInfo {
  address: Address;
  owner: Address;
  registry: Address;
  name: string;
  /** The encrypted dataset URL (`m_datasetMultiaddr` as UTF-8). */
  multiaddr: string;
  /** `0x` + sha256 of the encrypted file. */
  checksum: Hex;
}

export interface WorkerpoolInfo {
  address: Address;
  owner: Address;
  registry: Address;
  description: string;
}

export interface Resource {
  pointer: Address;
  owner: Address;
  price: bigint;
}

/** A deal, field for field as PoCo v5 `viewDeal`. */
export interface Deal {
  dealid: Hex;
  app: Resource;
  dataset: Resource;
  workerpool: Resource;
  trust: bigint;
  category: bigint;
  tag: Hex;
  requester: Address;
  beneficiary: Address;
  callback: Address;
  params: string;
  startTime: bigint;
  botFirst: bigint;
  botSize: bigint;
  workerStake: bigint;
  schedulerRewardRatio: bigint;
  sponsor: Address;
}

/** A task, field for field as PoCo v5 `viewTask` (status UNSET = not initialized). */
export interface Task {
  taskid: Hex;
  status: TaskStatus;
  dealid: Hex;
  idx: bigint;
  timeref: bigint;
  contributionDeadline: bigint;
  revealDeadline: bigint;
  finalDeadline: bigint;
  consensusValue: Hex;
  revealCounter: bigint;
  winnerCounter: bigint;
  contributors: readonly Address[];
  resultDigest: Hex;
  results: Hex;
  resultsTimestamp: bigint;
  resultsCallback: Hex;
}

export interface Deployment {
  chainId: number;
  /** The marketplace/task contract (PoCo's "iexec proxy"): EIP-712 verifyingContract of orders. */
  hub: Address;
  appRegistry: Address;
  datasetRegistry: Address;
  workerpoolRegistry: Address;
  deployer: Address;
  /** Block of the hub deployment: where `order list` starts reading logs. */
  blockNumber: number;
  /** The JSON-RPC URL the deployment was recorded for (informational). */
  url?: string;
  deployedAt: string;
}
