/**
 * Transactions on the sealwork contracts. Each call is simulated first (so a revert becomes a
 * decoded SealworkError before anything is sent), then sent and awaited.
 */
import {
  parseEventLogs,
  stringToHex,
  zeroAddress,
  type Account,
  type Address,
  type Chain,
  type Hex,
  type PublicClient,
  type Transport,
  type WalletClient,
} from 'viem';
import { SealworkError } from '../errors.js';
import type { Deployment } from './deployment.js';
import { decodeChainError, walletMissingError } from './errors.js';
import { appRegistryAbi } from './generated/appRegistry.js';
import { datasetRegistryAbi } from './generated/datasetRegistry.js';
import { hubAbi } from './generated/hub.js';
import { workerpoolRegistryAbi } from './generated/workerpoolRegistry.js';
import {
  emptyDatasetOrder,
  hashOrder,
  type AppOrder,
  type DatasetOrder,
  type OrderByKind,
  type OrderKind,
  type RequestOrder,
  type WorkerpoolOrder,
} from './orders.js';

/** What a write needs: clients with a signer, and the deployment. */
export interface ChainWriter {
  publicClient: PublicClient<Transport, Chain> | PublicClient;
  walletClient: WalletClient<Transport, Chain, Account> | WalletClient | undefined;
  deployment: Deployment;
}

export interface TxResult {
  txHash: Hex;
  gasUsed: bigint;
  blockNumber: bigint;
}

function wallet(c: ChainWriter): WalletClient & { account: Account } {
  if (!c.walletClient?.account) throw walletMissingError();
  return c.walletClient as WalletClient & { account: Account };
}

/** Simulate, send, wait; returns the simulated result and the receipt. */
async function send<T>(
  c: ChainWriter,
  call: { address: Address; abi: readonly unknown[]; functionName: string; args: readonly unknown[] },
): Promise<
  { result: T; receipt: Awaited<ReturnType<PublicClient['waitForTransactionReceipt']>> } & TxResult
> {
  const w = wallet(c);
  const pc = c.publicClient as PublicClient;
  try {
    const sim = await pc.simulateContract({ ...(call as object), account: w.account } as never);
    const txHash = await w.writeContract({
      ...(sim.request as object),
      account: w.account,
      chain: w.chain ?? null,
    } as never);
    const receipt = await pc.waitForTransactionReceipt({ hash: txHash });
    if (receipt.status !== 'success')
      throw new SealworkError('CHAIN_REVERTED', `The transaction ${txHash} reverted.`, {
        details: { txHash },
      });
    return {
      result: sim.result as T,
      receipt,
      txHash,
      gasUsed: receipt.gasUsed,
      blockNumber: receipt.blockNumber,
    };
  } catch (e) {
    throw decodeChainError(e);
  }
}

/** The transaction fields of a send, as every write returns them. */
function txOf(r: TxResult): TxResult {
  return { txHash: r.txHash, gasUsed: r.gasUsed, blockNumber: r.blockNumber };
}

// ---------------------------------------------------------------- assets

/** create{App,Dataset,Workerpool}(owner, ...args) on a registry; the owner defaults to the sender. */
async function createAsset(
  c: ChainWriter,
  call: { address: Address; abi: readonly unknown[]; functionName: string },
  owner: Address | undefined,
  args: readonly unknown[],
): Promise<TxResult & { address: Address }> {
  const r = await send<Address>(c, { ...call, args: [owner ?? wallet(c).account.address, ...args] });
  return { address: r.result, ...txOf(r) };
}

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

export async function createApp(
  c: ChainWriter,
  p: CreateAppParameters,
): Promise<TxResult & { address: Address }> {
  return createAsset(
    c,
    { address: c.deployment.appRegistry, abi: appRegistryAbi, functionName: 'createApp' },
    p.owner,
    [p.name, p.type ?? 'DOCKER', stringToHex(p.multiaddr), p.checksum, stringToHex(p.mrenclave)],
  );
}

export interface CreateDatasetParameters {
  owner?: Address;
  name: string;
  /** URL of the encrypted dataset (stored as UTF-8 bytes). */
  multiaddr: string;
  /** `0x` + sha256 of the encrypted file. */
  checksum: Hex;
}

export async function createDataset(
  c: ChainWriter,
  p: CreateDatasetParameters,
): Promise<TxResult & { address: Address }> {
  return createAsset(
    c,
    { address: c.deployment.datasetRegistry, abi: datasetRegistryAbi, functionName: 'createDataset' },
    p.owner,
    [p.name, stringToHex(p.multiaddr), p.checksum],
  );
}

export async function createWorkerpool(
  c: ChainWriter,
  p: { owner?: Address; description: string },
): Promise<TxResult & { address: Address }> {
  return createAsset(
    c,
    {
      address: c.deployment.workerpoolRegistry,
      abi: workerpoolRegistryAbi,
      functionName: 'createWorkerpool',
    },
    p.owner,
    [p.description],
  );
}

// ---------------------------------------------------------------- orders

const BROADCAST = {
  app: 'broadcastAppOrder',
  dataset: 'broadcastDatasetOrder',
  workerpool: 'broadcastWorkerpoolOrder',
  request: 'broadcastRequestOrder',
} as const;
const MANAGE = {
  app: 'manageAppOrder',
  dataset: 'manageDatasetOrder',
  workerpool: 'manageWorkerpoolOrder',
  request: 'manageRequestOrder',
} as const;

function domainOf(c: ChainWriter): { chainId: number; hub: Address } {
  return { chainId: c.deployment.chainId, hub: c.deployment.hub };
}

/**
 * Publish an order on chain: presigns it and emits Broadcast*Order carrying the whole order.
 * Sent by the owner, or by anyone with an order signed by the owner.
 */
export async function publishOrder<K extends OrderKind>(
  c: ChainWriter,
  kind: K,
  order: OrderByKind[K],
): Promise<TxResult & { orderHash: Hex }> {
  const r = await send<void>(c, {
    address: c.deployment.hub,
    abi: hubAbi,
    functionName: BROADCAST[kind],
    args: [order],
  });
  return { orderHash: hashOrder(kind, order, domainOf(c)), ...txOf(r) };
}

/** Cancel an order on chain (owner only): its volume becomes fully consumed. */
export async function cancelOrder<K extends OrderKind>(
  c: ChainWriter,
  kind: K,
  order: OrderByKind[K],
): Promise<TxResult & { orderHash: Hex }> {
  const r = await send<void>(c, {
    address: c.deployment.hub,
    abi: hubAbi,
    functionName: MANAGE[kind],
    args: [{ order, operation: 1, sign: '0x' }],
  });
  return { orderHash: hashOrder(kind, order, domainOf(c)), ...txOf(r) };
}

export interface MatchOrdersParameters {
  app: AppOrder;
  /** Omit for a request without a dataset. */
  dataset?: DatasetOrder;
  workerpool: WorkerpoolOrder;
  request: RequestOrder;
}

export interface MatchOrdersReturnType extends TxResult {
  dealid: Hex;
  volume: bigint;
  botFirst: bigint;
  appHash: Hex;
  datasetHash: Hex;
  workerpoolHash: Hex;
  requestHash: Hex;
}

/** matchOrders: creates a deal (dealid = keccak256(requestHash ‖ consumedBefore)). */
export async function matchOrders(c: ChainWriter, p: MatchOrdersParameters): Promise<MatchOrdersReturnType> {
  const dataset = p.dataset ?? emptyDatasetOrder();
  const r = await send<Hex>(c, {
    address: c.deployment.hub,
    abi: hubAbi,
    functionName: 'matchOrders',
    args: [p.app, dataset, p.workerpool, p.request],
  });
  const [ev] = parseEventLogs({ abi: hubAbi, logs: r.receipt.logs, eventName: 'OrdersMatched' });
  if (!ev) throw new SealworkError('CHAIN_ERROR', 'matchOrders emitted no OrdersMatched event.');
  const deal = await (c.publicClient as PublicClient).readContract({
    address: c.deployment.hub,
    abi: hubAbi,
    functionName: 'viewDeal',
    args: [ev.args.dealid],
  });
  return {
    dealid: ev.args.dealid,
    volume: ev.args.volume,
    botFirst: deal.botFirst,
    appHash: ev.args.appHash,
    datasetHash: ev.args.datasetHash,
    workerpoolHash: ev.args.workerpoolHash,
    requestHash: ev.args.requestHash,
    ...txOf(r),
  };
}

// ---------------------------------------------------------------- tasks

/** initialize(dealid, index) by the workerpool owner → task ACTIVE; returns the taskid. */
export async function initializeTask(
  c: ChainWriter,
  dealid: Hex,
  index: bigint | number,
): Promise<TxResult & { taskid: Hex }> {
  const r = await send<Hex>(c, {
    address: c.deployment.hub,
    abi: hubAbi,
    functionName: 'initialize',
    args: [dealid, BigInt(index)],
  });
  return { taskid: r.result, ...txOf(r) };
}

export interface ContributeAndFinalizeParameters {
  taskid: Hex;
  resultDigest: Hex;
  /** Result location (e.g. a storage URL as UTF-8 bytes), or hex. */
  results: Hex;
  resultsCallback?: Hex;
  /** Enclave challenge address (zero address for a non-TEE task). */
  enclaveChallenge?: Address;
  enclaveSign?: Hex;
  authorizationSign: Hex;
}

/** contributeAndFinalize by the worker → task COMPLETED (see formulas.ts for the signatures). */
export async function contributeAndFinalize(
  c: ChainWriter,
  p: ContributeAndFinalizeParameters,
): Promise<TxResult> {
  const r = await send<void>(c, {
    address: c.deployment.hub,
    abi: hubAbi,
    functionName: 'contributeAndFinalize',
    args: [
      p.taskid,
      p.resultDigest,
      p.results,
      p.resultsCallback ?? '0x',
      p.enclaveChallenge ?? zeroAddress,
      p.enclaveSign ?? '0x',
      p.authorizationSign,
    ],
  });
  return txOf(r);
}

/** claim(taskid) after the final deadline → task FAILED. */
export async function claimTask(c: ChainWriter, taskid: Hex): Promise<TxResult> {
  const r = await send<void>(c, {
    address: c.deployment.hub,
    abi: hubAbi,
    functionName: 'claim',
    args: [taskid],
  });
  return txOf(r);
}
