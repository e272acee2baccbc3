/** Reading assets, deals and tasks from the chain (PoCo v5 getters). */
import { hexToString, isAddress, type Address, type Hex, type PublicClient } from 'viem';
import { SealworkError } from '../errors.js';
import { appAbi } from './generated/app.js';
import { appRegistryAbi } from './generated/appRegistry.js';
import { datasetAbi } from './generated/dataset.js';
import { hubAbi } from './generated/hub.js';
import { workerpoolAbi } from './generated/workerpool.js';
import { decodeChainError } from './errors.js';

export enum TaskStatus {
  UNSET = 0,
  ACTIVE = 1,
  REVEALING = 2,
  COMPLETED = 3,
  FAILED = 4,
}

/** The app's `m_appMREnclave` JSON (SCONE): how the enclave is named and run. */
export interface MrEnclave {
  framework: string;
  version?: string;
  entrypoint?: string;
  heapSize?: number;
  /** MrEnclave | FSPF key | FSPF tag, as SCONE fingerprints. */
  fingerprint?: string;
  [k: string]: unknown;
}

/** Parse `m_appMREnclave` (UTF-8 JSON); undefined when empty or not a JSON object. */
export function parseMrEnclave(raw: string): MrEnclave | undefined {
  if (!raw) return undefined;
  try {
    const j = JSON.parse(raw) as unknown;
    if (typeof j !== 'object' || j === null || Array.isArray(j)) return undefined;
    return j as MrEnclave;
  } catch {
    return undefined;
  }
}

function assertAddress(a: string, what: string): asserts a is Address {
  if (!isAddress(a, { strict: false }))
    throw new SealworkError('ADDRESS_INVALID', `${a} is not a valid ${what} address.`, {
      hint: 'Give a 0x-prefixed 20-byte hex address.',
    });
}

/** Bytes stored on chain as UTF-8 (iExec stores URLs as their bytes). */
function bytesText(b: Hex): string {
  try {
    return hexToString(b);
  } catch {
    return b;
  }
}

async function hasCode(client: PublicClient, address: Address): Promise<boolean> {
  try {
    const code = await client.getCode({ address });
    return Boolean(code && code !== '0x');
  } catch (e) {
    throw decodeChainError(e); // e.g. CHAIN_UNREACHABLE, not an internal error
  }
}

async function notFound(kind: string, address: Address): Promise<never> {
  throw new SealworkError('ASSET_NOT_FOUND', `No ${kind} is deployed at ${address} on this chain.`, {
    hint: 'Check the address and the chain (--chain-url).',
    details: { address },
  });
}

/** A failed getter read: the chain is down (CHAIN_UNREACHABLE), or the address is not such an asset. */
function notAsset(kind: string, address: Address, e: unknown): SealworkError {
  if (e instanceof SealworkError) return e;
  const decoded = decodeChainError(e);
  if (decoded.code === 'CHAIN_UNREACHABLE') return decoded;
  return new SealworkError('ASSET_NOT_FOUND', `${address} is not a sealwork ${kind}.`, {
    details: { address },
    cause: e,
  });
}

/** The NFT owner of an asset (its `owner()`). */
export async function assetOwner(client: PublicClient, address: Address): Promise<Address> {
  assertAddress(address, 'asset');
  if (!(await hasCode(client, address))) return notFound('asset', address);
  try {
    return await client.readContract({ address, abi: appAbi, functionName: 'owner' });
  } catch (e) {
    throw decodeChainError(e);
  }
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

export async function readApp(client: PublicClient, address: Address): Promise<AppInfo> {
  assertAddress(address, 'app');
  if (!(await hasCode(client, address))) return notFound('app', address);
  try {
    const r = (
      fn:
        | 'owner'
        | 'registry'
        | 'm_appName'
        | 'm_appType'
        | 'm_appMultiaddr'
        | 'm_appChecksum'
        | 'm_appMREnclave',
    ) => client.readContract({ address, abi: appAbi, functionName: fn });
    const [owner, registry, name, type, multiaddr, checksum, mrenclave] = await Promise.all([
      r('owner'),
      r('registry'),
      r('m_appName'),
      r('m_appType'),
      r('m_appMultiaddr'),
      r('m_appChecksum'),
      r('m_appMREnclave'),
    ]);
    const raw = bytesText(mrenclave as Hex);
    return {
      address,
      owner: owner as Address,
      registry: registry as Address,
      name: name as string,
      type: type as string,
      multiaddr: bytesText(multiaddr as Hex),
      checksum: checksum as Hex,
      mrenclave: raw,
      enclave: parseMrEnclave(raw),
    };
  } catch (e) {
    throw notAsset('app', address, e);
  }
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

export async function readDataset(client: PublicClient, address: Address): Promise<DatasetInfo> {
  assertAddress(address, 'dataset');
  if (!(await hasCode(client, address))) return notFound('dataset', address);
  try {
    const r = (fn: 'owner' | 'registry' | 'm_datasetName' | 'm_datasetMultiaddr' | 'm_datasetChecksum') =>
      client.readContract({ address, abi: datasetAbi, functionName: fn });
    const [owner, registry, name, multiaddr, checksum] = await Promise.all([
      r('owner'),
      r('registry'),
      r('m_datasetName'),
      r('m_datasetMultiaddr'),
      r('m_datasetChecksum'),
    ]);
    return {
      address,
      owner: owner as Address,
      registry: registry as Address,
      name: name as string,
      multiaddr: bytesText(multiaddr as Hex),
      checksum: checksum as Hex,
    };
  } catch (e) {
    throw notAsset('dataset', address, e);
  }
}

export interface WorkerpoolInfo {
  address: Address;
  owner: Address;
  registry: Address;
  description: string;
}

export async function readWorkerpool(client: PublicClient, address: Address): Promise<WorkerpoolInfo> {
  assertAddress(address, 'workerpool');
  if (!(await hasCode(client, address))) return notFound('workerpool', address);
  try {
    const r = (fn: 'owner' | 'registry' | 'm_workerpoolDescription') =>
      client.readContract({ address, abi: workerpoolAbi, functionName: fn });
    const [owner, registry, description] = await Promise.all([
      r('owner'),
      r('registry'),
      r('m_workerpoolDescription'),
    ]);
    return {
      address,
      owner: owner as Address,
      registry: registry as Address,
      description: description as string,
    };
  } catch (e) {
    throw notAsset('workerpool', address, e);
  }
}

/** Is `address` registered in the app registry of this deployment? */
export async function isRegisteredApp(
  client: PublicClient,
  appRegistry: Address,
  address: Address,
): Promise<boolean> {
  return client.readContract({
    address: appRegistry,
    abi: appRegistryAbi,
    functionName: 'isRegistered',
    args: [address],
  });
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

export async function readDeal(client: PublicClient, hub: Address, dealid: Hex): Promise<Deal> {
  let d;
  try {
    d = await client.readContract({ address: hub, abi: hubAbi, functionName: 'viewDeal', args: [dealid] });
  } catch (e) {
    throw decodeChainError(e);
  }
  if (d.app.pointer === '0x0000000000000000000000000000000000000000')
    throw new SealworkError('DEAL_NOT_FOUND', `There is no deal ${dealid} on this chain.`, {
      hint: 'Check the deal id and the chain.',
      details: { dealid },
    });
  return { dealid, ...d };
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

export async function readTask(client: PublicClient, hub: Address, taskid: Hex): Promise<Task> {
  try {
    const t = await client.readContract({
      address: hub,
      abi: hubAbi,
      functionName: 'viewTask',
      args: [taskid],
    });
    return { taskid, ...t, status: t.status as TaskStatus };
  } catch (e) {
    throw decodeChainError(e);
  }
}

/** Consumed volume of an order hash (a cancelled order is fully consumed). */
export async function readConsumed(client: PublicClient, hub: Address, orderHash: Hex): Promise<bigint> {
  return client.readContract({ address: hub, abi: hubAbi, functionName: 'viewConsumed', args: [orderHash] });
}

export function taskStatusName(s: TaskStatus): string {
  return TaskStatus[s] ?? String(s);
}
