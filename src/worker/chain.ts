/**
 * What the worker needs from the chain, on viem and the hub ABI: read deals, tasks and apps, watch
 * SchedulerNotice for a workerpool, and send initialize / contributeAndFinalize / claim with one
 * nonce-ordered sender per account.
 */
import {
  BaseError,
  ContractFunctionRevertedError,
  hexToString,
  isAddressEqual,
  zeroAddress,
  type Account,
  type Address,
  type Chain,
  type Hex,
  type LocalAccount,
  type PublicClient,
  type Transport,
  type WalletClient,
  createWalletClient,
  http,
} from 'viem';
import { decodeChainError } from '../chain/errors.js';
import { appAbi } from '../chain/generated/app.js';
import { datasetAbi } from '../chain/generated/dataset.js';
import { hubAbi } from '../chain/generated/hub.js';
import { SealworkError } from '../errors.js';

export const TASK_STATUS = ['UNSET', 'ACTIVE', 'REVEALING', 'COMPLETED', 'FAILED'] as const;
export type TaskStatusName = (typeof TASK_STATUS)[number];

export interface DealView {
  dealId: Hex;
  app: Address;
  appOwner: Address;
  dataset: Address;
  workerpool: Address;
  workerpoolOwner: Address;
  tag: Hex;
  requester: Address;
  beneficiary: Address;
  callback: Address;
  params: string;
  category: bigint;
  startTime: bigint;
  botFirst: bigint;
  botSize: bigint;
}

export interface TaskView {
  taskId: Hex;
  status: TaskStatusName;
  dealId: Hex;
  index: bigint;
  contributionDeadline: bigint;
  finalDeadline: bigint;
  resultDigest: Hex;
  results: string;
  resultsTimestamp: bigint;
}

export interface AppView {
  address: Address;
  name: string;
  multiaddr: string;
  checksum: Hex;
  mrenclave: string;
}

export interface DatasetView {
  address: Address;
  name: string;
  multiaddr: string;
  checksum: Hex;
}

function bytesToText(b: Hex): string {
  try {
    return hexToString(b);
  } catch {
    return b;
  }
}

/** Serialize sends per account so concurrent task slots never race on nonces. */
class SendQueue {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.tail.then(fn, fn);
    this.tail = next.catch(() => undefined);
    return next;
  }
}

/** Turn a revert into a sentence (custom error name and args). */
export function describeRevert(e: unknown): string {
  if (e instanceof BaseError) {
    const r = e.walk(
      (x) => x instanceof ContractFunctionRevertedError,
    ) as ContractFunctionRevertedError | null;
    if (r?.data?.errorName)
      return `${r.data.errorName}(${(r.data.args ?? []).map((a) => String(a)).join(', ')})`;
    return e.shortMessage;
  }
  return (e as Error)?.message ?? String(e);
}

export class WorkerChain {
  readonly hub: Address;
  private queues = new Map<string, SendQueue>();
  private wallets = new Map<string, WalletClient<Transport, Chain, Account>>();

  constructor(
    readonly publicClient: PublicClient<Transport, Chain>,
    readonly url: string,
    hub: Address,
  ) {
    this.hub = hub;
  }

  private wallet(account: LocalAccount): WalletClient<Transport, Chain, Account> {
    let w = this.wallets.get(account.address);
    if (!w) {
      w = createWalletClient({
        chain: this.publicClient.chain,
        transport: http(this.url),
        account,
        pollingInterval: 100,
      });
      this.wallets.set(account.address, w);
    }
    return w;
  }

  async readDeal(dealId: Hex): Promise<DealView | undefined> {
    const d = await this.publicClient.readContract({
      address: this.hub,
      abi: hubAbi,
      functionName: 'viewDeal',
      args: [dealId],
    });
    if (isAddressEqual(d.app.pointer, zeroAddress)) return undefined;
    return {
      dealId,
      app: d.app.pointer,
      appOwner: d.app.owner,
      dataset: d.dataset.pointer,
      workerpool: d.workerpool.pointer,
      workerpoolOwner: d.workerpool.owner,
      tag: d.tag,
      requester: d.requester,
      beneficiary: d.beneficiary,
      callback: d.callback,
      params: d.params,
      category: d.category,
      startTime: d.startTime,
      botFirst: d.botFirst,
      botSize: d.botSize,
    };
  }

  async readTask(taskId: Hex): Promise<TaskView> {
    const t = await this.publicClient.readContract({
      address: this.hub,
      abi: hubAbi,
      functionName: 'viewTask',
      args: [taskId],
    });
    return {
      taskId,
      status: TASK_STATUS[t.status] ?? 'UNSET',
      dealId: t.dealid,
      index: t.idx,
      contributionDeadline: t.contributionDeadline,
      finalDeadline: t.finalDeadline,
      resultDigest: t.resultDigest,
      results: bytesToText(t.results),
      resultsTimestamp: t.resultsTimestamp,
    };
  }

  async readApp(app: Address): Promise<AppView> {
    const c = { address: app, abi: appAbi } as const;
    const [name, multiaddr, checksum, mrenclave] = await Promise.all([
      this.publicClient.readContract({ ...c, functionName: 'm_appName' }),
      this.publicClient.readContract({ ...c, functionName: 'm_appMultiaddr' }),
      this.publicClient.readContract({ ...c, functionName: 'm_appChecksum' }),
      this.publicClient.readContract({ ...c, functionName: 'm_appMREnclave' }),
    ]);
    return {
      address: app,
      name,
      multiaddr: bytesToText(multiaddr),
      checksum,
      mrenclave: bytesToText(mrenclave),
    };
  }

  async readDataset(dataset: Address): Promise<DatasetView> {
    const c = { address: dataset, abi: datasetAbi } as const;
    const [name, multiaddr, checksum] = await Promise.all([
      this.publicClient.readContract({ ...c, functionName: 'm_datasetName' }),
      this.publicClient.readContract({ ...c, functionName: 'm_datasetMultiaddr' }),
      this.publicClient.readContract({ ...c, functionName: 'm_datasetChecksum' }),
    ]);
    return { address: dataset, name, multiaddr: bytesToText(multiaddr), checksum };
  }

  /**
   * Deals noticed for `workerpool` in blocks [fromBlock, latest]; `toBlock` is the latest block (below
   * `fromBlock` when there is nothing new) and `toBlockHash` its hash.
   */
  async scanDeals(
    workerpool: Address,
    fromBlock: bigint,
  ): Promise<{ deals: Hex[]; toBlock: bigint; toBlockHash: Hex }> {
    const latest = await this.publicClient.getBlock({ blockTag: 'latest' });
    const toBlock = latest.number;
    if (toBlock < fromBlock) return { deals: [], toBlock, toBlockHash: latest.hash };
    const logs = await this.publicClient.getContractEvents({
      address: this.hub,
      abi: hubAbi,
      eventName: 'SchedulerNotice',
      args: { workerpool },
      fromBlock,
      toBlock,
    });
    const deals = logs
      .filter((l) => l.args.workerpool && isAddressEqual(l.args.workerpool, workerpool))
      .map((l) => l.args.dealid as Hex);
    return { deals: [...new Set(deals)], toBlock, toBlockHash: latest.hash };
  }

  /** The hash of block `n`, or undefined when this chain has no such block. */
  async blockHash(n: bigint): Promise<Hex | undefined> {
    try {
      return (await this.publicClient.getBlock({ blockNumber: n })).hash;
    } catch {
      return undefined;
    }
  }

  async now(): Promise<bigint> {
    return (await this.publicClient.getBlock({ blockTag: 'latest' })).timestamp;
  }

  private async send(
    account: LocalAccount,
    what: string,
    request: { functionName: 'initialize' | 'contributeAndFinalize' | 'claim'; args: readonly unknown[] },
    onHash?: (h: Hex) => void,
  ): Promise<Hex> {
    const queue = this.queues.get(account.address) ?? new SendQueue();
    this.queues.set(account.address, queue);
    let hash: Hex;
    try {
      hash = await queue.run(async () => {
        const { request: req } = await this.publicClient.simulateContract({
          address: this.hub,
          abi: hubAbi,
          functionName: request.functionName,
          args: request.args as never,
          account,
        });
        return this.wallet(account).writeContract(req as never);
      });
    } catch (e) {
      const d = decodeChainError(e);
      throw new SealworkError(d.code, `${what} was refused by the chain: ${d.shortMessage}`, {
        details: { call: request.functionName, ...d.details },
        cause: e,
      });
    }
    onHash?.(hash);
    const receipt = await this.publicClient.waitForTransactionReceipt({ hash, pollingInterval: 100 });
    if (receipt.status !== 'success')
      throw new SealworkError('CHAIN_TX_REVERTED', `${what} reverted on chain (tx ${hash}).`, {
        details: { hash },
      });
    return hash;
  }

  initialize(scheduler: LocalAccount, dealId: Hex, index: bigint): Promise<Hex> {
    return this.send(scheduler, `initialize(${dealId}, ${index})`, {
      functionName: 'initialize',
      args: [dealId, index],
    });
  }

  contributeAndFinalize(
    worker: LocalAccount,
    p: {
      taskId: Hex;
      resultDigest: Hex;
      results: string;
      resultsCallback: Hex;
      enclaveChallenge: Address;
      enclaveSign: Hex;
      authorizationSign: Hex;
    },
    onHash?: (h: Hex) => void,
  ): Promise<Hex> {
    const results = `0x${Buffer.from(p.results, 'utf8').toString('hex')}` as Hex;
    return this.send(
      worker,
      `contributeAndFinalize(${p.taskId})`,
      {
        functionName: 'contributeAndFinalize',
        args: [
          p.taskId,
          p.resultDigest,
          results,
          p.resultsCallback,
          p.enclaveChallenge,
          p.enclaveSign,
          p.authorizationSign,
        ],
      },
      onHash,
    );
  }

  claim(account: LocalAccount, taskId: Hex): Promise<Hex> {
    return this.send(account, `claim(${taskId})`, { functionName: 'claim', args: [taskId] });
  }

  /** The receipt status of a transaction sent earlier: undefined when unknown to the node. */
  async receiptStatus(hash: Hex): Promise<'success' | 'reverted' | undefined> {
    try {
      return (await this.publicClient.getTransactionReceipt({ hash })).status;
    } catch {
      return undefined;
    }
  }
}
