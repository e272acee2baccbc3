/**
 * iExec PoCo v5 orders: typed structs, EIP-712 types and domain, hashing, signing (the deal/task
 * id formulas and tag bits are re-exported from src/protocol). Pure functions (no RPC).
 */
import {
  hashTypedData,
  isAddress,
  zeroAddress,
  zeroHash,
  type Account,
  type Address,
  type Hex,
  type TypedDataDomain,
} from 'viem';
import { signTypedData } from 'viem/actions';
import { SealworkError } from '../errors.js';
import { TEE_TAG_BIT } from '../protocol/index.js';
import type { SignerClient } from './types.js';

export type OrderKind = 'app' | 'dataset' | 'workerpool' | 'request';
export const ORDER_KINDS: readonly OrderKind[] = ['app', 'dataset', 'workerpool', 'request'];

export interface AppOrder {
  app: Address;
  appprice: bigint;
  volume: bigint;
  tag: Hex;
  datasetrestrict: Address;
  workerpoolrestrict: Address;
  requesterrestrict: Address;
  salt: Hex;
  sign: Hex;
}

export interface DatasetOrder {
  dataset: Address;
  datasetprice: bigint;
  volume: bigint;
  tag: Hex;
  apprestrict: Address;
  workerpoolrestrict: Address;
  requesterrestrict: Address;
  salt: Hex;
  sign: Hex;
}

export interface WorkerpoolOrder {
  workerpool: Address;
  workerpoolprice: bigint;
  volume: bigint;
  tag: Hex;
  category: bigint;
  trust: bigint;
  apprestrict: Address;
  datasetrestrict: Address;
  requesterrestrict: Address;
  salt: Hex;
  sign: Hex;
}

export interface RequestOrder {
  app: Address;
  appmaxprice: bigint;
  dataset: Address;
  datasetmaxprice: bigint;
  workerpool: Address;
  workerpoolmaxprice: bigint;
  requester: Address;
  volume: bigint;
  tag: Hex;
  category: bigint;
  trust: bigint;
  beneficiary: Address;
  callback: Address;
  params: string;
  salt: Hex;
  sign: Hex;
}

export interface OrderByKind {
  app: AppOrder;
  dataset: DatasetOrder;
  workerpool: WorkerpoolOrder;
  request: RequestOrder;
}
export type AnyOrder = OrderByKind[OrderKind];

/** A signed order file, as written by `order sign` and read by `order publish|cancel`, `deal match`. */
export type SignedOrderFile = {
  [K in OrderKind]: { kind: K; chainId: number; hub: Address; order: OrderByKind[K] };
}[OrderKind];

/** EIP-712 types, field for field as IexecLibOrders_v5 (the `sign` field is not hashed). */
export const ORDER_TYPES = {
  AppOrder: [
    { name: 'app', type: 'address' },
    { name: 'appprice', type: 'uint256' },
    { name: 'volume', type: 'uint256' },
    { name: 'tag', type: 'bytes32' },
    { name: 'datasetrestrict', type: 'address' },
    { name: 'workerpoolrestrict', type: 'address' },
    { name: 'requesterrestrict', type: 'address' },
    { name: 'salt', type: 'bytes32' },
  ],
  DatasetOrder: [
    { name: 'dataset', type: 'address' },
    { name: 'datasetprice', type: 'uint256' },
    { name: 'volume', type: 'uint256' },
    { name: 'tag', type: 'bytes32' },
    { name: 'apprestrict', type: 'address' },
    { name: 'workerpoolrestrict', type: 'address' },
    { name: 'requesterrestrict', type: 'address' },
    { name: 'salt', type: 'bytes32' },
  ],
  WorkerpoolOrder: [
    { name: 'workerpool', type: 'address' },
    { name: 'workerpoolprice', type: 'uint256' },
    { name: 'volume', type: 'uint256' },
    { name: 'tag', type: 'bytes32' },
    { name: 'category', type: 'uint256' },
    { name: 'trust', type: 'uint256' },
    { name: 'apprestrict', type: 'address' },
    { name: 'datasetrestrict', type: 'address' },
    { name: 'requesterrestrict', type: 'address' },
    { name: 'salt', type: 'bytes32' },
  ],
  RequestOrder: [
    { name: 'app', type: 'address' },
    { name: 'appmaxprice', type: 'uint256' },
    { name: 'dataset', type: 'address' },
    { name: 'datasetmaxprice', type: 'uint256' },
    { name: 'workerpool', type: 'address' },
    { name: 'workerpoolmaxprice', type: 'uint256' },
    { name: 'requester', type: 'address' },
    { name: 'volume', type: 'uint256' },
    { name: 'tag', type: 'bytes32' },
    { name: 'category', type: 'uint256' },
    { name: 'trust', type: 'uint256' },
    { name: 'beneficiary', type: 'address' },
    { name: 'callback', type: 'address' },
    { name: 'params', type: 'string' },
    { name: 'salt', type: 'bytes32' },
  ],
} as const;

export const PRIMARY_TYPE = {
  app: 'AppOrder',
  dataset: 'DatasetOrder',
  workerpool: 'WorkerpoolOrder',
  request: 'RequestOrder',
} as const satisfies Record<OrderKind, keyof typeof ORDER_TYPES>;

/** The iExec EIP-712 domain: {name: "iExecODB", version: "5.0.0", chainId, verifyingContract: hub}. */
export function orderDomain(chainId: number, hub: Address): TypedDataDomain {
  return { name: 'iExecODB', version: '5.0.0', chainId, verifyingContract: hub };
}

// Tag bits, the task id and the deal id are protocol rules (src/protocol).
export { TAG_TEE, TAG_TEE_TDX, TAG_NONE, isTeeTag, computeDealId, computeTaskId } from '../protocol/index.js';

/** Tag as bytes32 from a list of names (only `tee` is defined), a hex string, or a number. */
export function toTag(tag: string | string[] | undefined): Hex {
  if (tag === undefined || tag === '' || (Array.isArray(tag) && tag.length === 0)) return zeroHash;
  if (typeof tag === 'string' && /^0x[0-9a-fA-F]{1,64}$/.test(tag))
    return `0x${tag.slice(2).padStart(64, '0')}` as Hex;
  const names = Array.isArray(tag) ? tag : tag.split(',').map((s) => s.trim());
  let bits = 0n;
  for (const n of names) {
    if (n.toLowerCase() === 'tee' || n.toLowerCase() === 'scone') bits |= TEE_TAG_BIT;
    else
      throw new SealworkError('ORDER_TAG_INVALID', `Unknown tag "${n}".`, {
        hint: 'Use "tee" (bit 0) or a bytes32 hex value.',
      });
  }
  return `0x${bits.toString(16).padStart(64, '0')}` as Hex;
}

function message(kind: OrderKind, order: AnyOrder): Record<string, unknown> {
  const { sign: _sign, ...rest } = order as AnyOrder & { sign: Hex };
  return rest;
}

/** The EIP-712 typed data of an order (domain, the primary type only, message without `sign`). */
export function typedData(kind: OrderKind, order: AnyOrder, domain: { chainId: number; hub: Address }) {
  const primaryType = PRIMARY_TYPE[kind];
  return {
    domain: orderDomain(domain.chainId, domain.hub),
    types: { [primaryType]: ORDER_TYPES[primaryType] },
    primaryType,
    message: message(kind, order),
  };
}

/** EIP-712 hash of an order (what is signed, and the key of `viewConsumed`). */
export function hashOrder<K extends OrderKind>(
  kind: K,
  order: OrderByKind[K],
  domain: { chainId: number; hub: Address },
): Hex {
  return hashTypedData(typedData(kind, order, domain) as Parameters<typeof hashTypedData>[0]);
}

/** Sign an order with EIP-712 (the signer must be the asset owner, or the requester). Returns a copy with `sign` set. */
export async function signOrder<K extends OrderKind>(
  walletClient: SignerClient,
  domain: { chainId: number; hub: Address },
  kind: K,
  order: OrderByKind[K],
  account?: Account,
): Promise<OrderByKind[K]> {
  const acct = account ?? walletClient.account;
  if (!acct)
    throw new SealworkError('WALLET_MISSING', 'No wallet to sign the order with.', {
      hint: 'Set SEALWORK_PRIVATE_KEY or create a wallet with `sealwork wallet create`.',
    });
  const sign = await signTypedData(walletClient, { account: acct, ...typedData(kind, order, domain) });
  return { ...order, sign };
}

// ---------------------------------------------------------------- order defaults

function randomSalt(): Hex {
  const b = new Uint8Array(32);
  crypto.getRandomValues(b);
  return `0x${Buffer.from(b).toString('hex')}` as Hex;
}

export function createAppOrder(p: Partial<AppOrder> & { app: Address }): AppOrder {
  return {
    appprice: 0n,
    volume: 1n,
    tag: zeroHash,
    datasetrestrict: zeroAddress,
    workerpoolrestrict: zeroAddress,
    requesterrestrict: zeroAddress,
    salt: randomSalt(),
    sign: '0x',
    ...p,
  };
}

export function createDatasetOrder(p: Partial<DatasetOrder> & { dataset: Address }): DatasetOrder {
  return {
    datasetprice: 0n,
    volume: 1n,
    tag: zeroHash,
    apprestrict: zeroAddress,
    workerpoolrestrict: zeroAddress,
    requesterrestrict: zeroAddress,
    salt: randomSalt(),
    sign: '0x',
    ...p,
  };
}

export function createWorkerpoolOrder(
  p: Partial<WorkerpoolOrder> & { workerpool: Address },
): WorkerpoolOrder {
  return {
    workerpoolprice: 0n,
    volume: 1n,
    tag: zeroHash,
    category: 0n,
    trust: 0n,
    apprestrict: zeroAddress,
    datasetrestrict: zeroAddress,
    requesterrestrict: zeroAddress,
    salt: randomSalt(),
    sign: '0x',
    ...p,
  };
}

export function createRequestOrder(
  p: Partial<RequestOrder> & { app: Address; requester: Address },
): RequestOrder {
  return {
    appmaxprice: 0n,
    dataset: zeroAddress,
    datasetmaxprice: 0n,
    workerpool: zeroAddress,
    workerpoolmaxprice: 0n,
    volume: 1n,
    tag: zeroHash,
    category: 0n,
    trust: 0n,
    beneficiary: p.requester,
    callback: zeroAddress,
    params: '{}',
    salt: randomSalt(),
    sign: '0x',
    ...p,
  };
}

/** The empty dataset order used when a request has no dataset. */
export function emptyDatasetOrder(): DatasetOrder {
  return createDatasetOrder({ dataset: zeroAddress, volume: 0n, salt: zeroHash });
}

// ---------------------------------------------------------------- JSON (bigints as decimal strings)

/**
 * An order as plain JSON (bigints as decimal strings), as iExec tools exchange them, with its
 * fields in the struct's order (then `sign`).
 */
export function orderToJson(order: AnyOrder): Record<string, string> {
  const o = order as unknown as Record<string, unknown>;
  const keys = Object.keys(o);
  const kind = ORDER_KINDS.find((k) => FIELDS[k].length === keys.length && FIELDS[k].every((f) => f in o));
  return Object.fromEntries(
    (kind ? FIELDS[kind] : keys).map((k) => {
      const v = o[k];
      return [k, typeof v === 'bigint' ? v.toString() : String(v)];
    }),
  );
}

const FIELDS: Record<OrderKind, readonly string[]> = {
  app: [...ORDER_TYPES.AppOrder.map((f) => f.name), 'sign'],
  dataset: [...ORDER_TYPES.DatasetOrder.map((f) => f.name), 'sign'],
  workerpool: [...ORDER_TYPES.WorkerpoolOrder.map((f) => f.name), 'sign'],
  request: [...ORDER_TYPES.RequestOrder.map((f) => f.name), 'sign'],
};

/** The EIP-712 type of every field of an order (and `sign`, the signature bytes). */
const FIELD_TYPES: Record<OrderKind, Record<string, string>> = {
  app: Object.fromEntries([...ORDER_TYPES.AppOrder.map((f) => [f.name, f.type]), ['sign', 'bytes']]),
  dataset: Object.fromEntries([...ORDER_TYPES.DatasetOrder.map((f) => [f.name, f.type]), ['sign', 'bytes']]),
  workerpool: Object.fromEntries([
    ...ORDER_TYPES.WorkerpoolOrder.map((f) => [f.name, f.type]),
    ['sign', 'bytes'],
  ]),
  request: Object.fromEntries([...ORDER_TYPES.RequestOrder.map((f) => [f.name, f.type]), ['sign', 'bytes']]),
};

const UINT256_MAX = (1n << 256n) - 1n;

/** A JSON field as its EIP-712 type takes it; throws (plain Error) when it does not fit. */
function fieldValue(type: string, v: unknown): unknown {
  switch (type) {
    case 'uint256': {
      const ok =
        (typeof v === 'string' && /^(\d+|0x[0-9a-fA-F]+)$/.test(v)) ||
        (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0);
      const n = ok ? BigInt(v as string | number) : -1n;
      if (n < 0n || n > UINT256_MAX) throw new Error('not a uint256 (a decimal string)');
      return n;
    }
    case 'string':
      return typeof v === 'string' ? v : JSON.stringify(v);
    case 'address':
      // strict: a mixed-case address must carry a valid EIP-55 checksum, as the signer hashed it
      if (typeof v !== 'string' || !isAddress(v, { strict: true })) throw new Error('not a 20-byte address');
      return v;
    case 'bytes32':
      if (typeof v !== 'string' || !/^0x[0-9a-fA-F]{64}$/.test(v)) throw new Error('not 32 bytes of hex');
      return v;
    default:
      if (typeof v !== 'string' || !/^0x(?:[0-9a-fA-F]{2})*$/.test(v)) throw new Error('not hex bytes');
      return v;
  }
}

/**
 * Parse a JSON order of the given kind; throws ORDER_INVALID naming the bad field. Every field is
 * checked against its EIP-712 type (uint256 range, address and bytes32 lengths), so a parsed order
 * always hashes and signs.
 */
export function orderFromJson<K extends OrderKind>(kind: K, json: unknown): OrderByKind[K] {
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    throw new SealworkError('ORDER_INVALID', `The ${kind} order is not a JSON object.`);
  const src = json as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const f of FIELDS[kind]) {
    const v = Object.hasOwn(src, f) ? src[f] : undefined;
    if (v === undefined || v === null) {
      if (f === 'sign') {
        out[f] = '0x';
        continue;
      }
      throw new SealworkError('ORDER_INVALID', `The ${kind} order has no "${f}" field.`, {
        hint: 'Use a file written by `sealwork order sign`.',
      });
    }
    try {
      out[f] = fieldValue(FIELD_TYPES[kind][f]!, v);
    } catch (e) {
      throw new SealworkError(
        'ORDER_INVALID',
        `The ${kind} order field "${f}" is invalid: ${(e as Error).message}.`,
        {
          details: { field: f },
          cause: e,
        },
      );
    }
  }
  return out as unknown as OrderByKind[K];
}
