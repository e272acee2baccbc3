/** Orders: sign to a file, publish / cancel on chain, list the market from the chain. */
import { promises as fs } from 'node:fs';
import { resolve } from 'node:path';
import { getAddress, isAddress, zeroAddress, type Address, type Hex } from 'viem';
import {
  assetOwner,
  cancelOrder,
  createAppOrder,
  createDatasetOrder,
  createRequestOrder,
  createWorkerpoolOrder,
  decodeChainError,
  hashOrder,
  isRegisteredApp,
  listOrders,
  ORDER_KINDS,
  orderFromJson,
  orderToJson,
  publishOrder,
  readConsumed,
  signOrder,
  toTag,
  type AnyOrder,
  type ChainClients,
  type ChainWriter,
  type ListOrdersFilter,
  type OrderByKind,
  type OrderKind,
  type PublishedOrder,
  type SignedOrderFile,
  type TxResult,
} from '../../chain/index.js';
import { SealworkError, fsError } from '../../errors.js';
import { writeFileAtomic } from '../../util/atomic.js';
import { connect, type ChainParameters } from './common.js';

function addr(v: string | undefined, what: string): Address {
  if (v === undefined || v === '' || v === 'any') return zeroAddress;
  if (!isAddress(v, { strict: false }))
    throw new SealworkError('ADDRESS_INVALID', `--${what} ${v} is not an address.`, {
      hint: 'Give a 0x-prefixed 20-byte address.',
    });
  return getAddress(v);
}

function uint(v: string | number | bigint | undefined, what: string, dflt: bigint): bigint {
  if (v === undefined) return dflt;
  try {
    const n = BigInt(v);
    if (n < 0n) throw new Error('negative');
    return n;
  } catch {
    throw new SealworkError('ORDER_FIELD_INVALID', `--${what} ${v} is not a non-negative integer.`);
  }
}

/** Fields for `order sign` (strings as given on the command line). */
export interface SignOrderFields {
  app?: string;
  dataset?: string;
  workerpool?: string;
  requester?: string;
  volume?: string;
  tag?: string;
  category?: string;
  trust?: string;
  price?: string;
  appRestrict?: string;
  datasetRestrict?: string;
  workerpoolRestrict?: string;
  requesterRestrict?: string;
  beneficiary?: string;
  callback?: string;
  /** JSON text of iExec params (e.g. {"iexec_args":"..."}). */
  params?: string;
}

export interface SignOrderParameters extends ChainParameters {
  kind: OrderKind;
  fields: SignOrderFields;
  /** Write the signed order file here. */
  out?: string;
  force?: boolean;
}

function need(v: string | undefined, what: string, kind: string): string {
  if (!v) throw new SealworkError('ORDER_FIELD_MISSING', `A ${kind} order needs --${what}.`);
  return v;
}

/** Build an order from fields, sign it with the configured wallet (EIP-712), optionally write it. */
export async function signOrderToFile(
  p: SignOrderParameters,
): Promise<{ file?: string; orderHash: Hex; signed: SignedOrderFile }> {
  const c = await connect(p, true);
  const f = p.fields;
  const k = p.kind;
  if (f.params !== undefined) {
    try {
      JSON.parse(f.params);
    } catch {
      throw new SealworkError('ORDER_PARAMS_INVALID', '--params is not valid JSON.', {
        hint: 'Example: --params \'{"iexec_args":"--x 1"}\'',
      });
    }
  }
  const volume = uint(f.volume, 'volume', 1n);
  if (volume === 0n)
    throw new SealworkError('ORDER_FIELD_INVALID', '--volume 0: an order needs a volume of at least 1.');
  const common = { volume, tag: toTag(f.tag) };
  let order: AnyOrder;
  if (k === 'app')
    order = createAppOrder({
      ...common,
      app: addr(need(f.app, 'app', k), 'app'),
      appprice: uint(f.price, 'price', 0n),
      datasetrestrict: addr(f.datasetRestrict, 'dataset-restrict'),
      workerpoolrestrict: addr(f.workerpoolRestrict, 'workerpool-restrict'),
      requesterrestrict: addr(f.requesterRestrict, 'requester-restrict'),
    });
  else if (k === 'dataset')
    order = createDatasetOrder({
      ...common,
      dataset: addr(need(f.dataset, 'dataset', k), 'dataset'),
      datasetprice: uint(f.price, 'price', 0n),
      apprestrict: addr(f.appRestrict, 'app-restrict'),
      workerpoolrestrict: addr(f.workerpoolRestrict, 'workerpool-restrict'),
      requesterrestrict: addr(f.requesterRestrict, 'requester-restrict'),
    });
  else if (k === 'workerpool')
    order = createWorkerpoolOrder({
      ...common,
      workerpool: addr(need(f.workerpool, 'workerpool', k), 'workerpool'),
      workerpoolprice: uint(f.price, 'price', 0n),
      category: uint(f.category, 'category', 0n),
      trust: uint(f.trust, 'trust', 0n),
      apprestrict: addr(f.appRestrict, 'app-restrict'),
      datasetrestrict: addr(f.datasetRestrict, 'dataset-restrict'),
      requesterrestrict: addr(f.requesterRestrict, 'requester-restrict'),
    });
  else {
    const requester = f.requester ? addr(f.requester, 'requester') : c.account!.address;
    order = createRequestOrder({
      ...common,
      app: addr(need(f.app, 'app', k), 'app'),
      dataset: addr(f.dataset, 'dataset'),
      workerpool: addr(f.workerpool, 'workerpool'),
      requester,
      beneficiary: f.beneficiary ? addr(f.beneficiary, 'beneficiary') : requester,
      callback: addr(f.callback, 'callback'),
      category: uint(f.category, 'category', 0n),
      trust: uint(f.trust, 'trust', 0n),
      params: f.params ?? '{}',
    });
  }
  await assertSigner(c, k, order, c.account!.address);
  const domain = { chainId: c.deployment.chainId, hub: c.deployment.hub };
  const signedOrder = await signOrder(c.walletClient!, domain, k, order);
  const signed = { kind: k, chainId: domain.chainId, hub: domain.hub, order: signedOrder } as SignedOrderFile;
  const orderHash = hashOrder(k, signedOrder, domain);
  let file: string | undefined;
  if (p.out) {
    file = resolve(p.out);
    await writeFileAtomic(file, `${JSON.stringify(signedOrderToJson(signed), null, 2)}\n`, {
      force: p.force,
    });
  }
  return { file, orderHash, signed };
}

const REGISTRY = {
  app: 'appRegistry',
  dataset: 'datasetRegistry',
  workerpool: 'workerpoolRegistry',
} as const;

/**
 * Refuse to sign an order whose signature the hub would reject: an asset order must be signed by
 * the asset's owner (the asset must be registered), a request order by its requester.
 */
async function assertSigner(
  c: ChainClients,
  kind: OrderKind,
  order: AnyOrder,
  signer: Address,
): Promise<void> {
  if (kind === 'request') {
    const requester = (order as OrderByKind['request']).requester;
    if (requester !== signer)
      throw new SealworkError(
        'ORDER_SIGNER_NOT_OWNER',
        `A request order must be signed by its requester ${requester}; the wallet is ${signer}.`,
        { hint: 'Drop --requester, or sign with the requester’s wallet.' },
      );
    return;
  }
  const asset = (order as unknown as Record<string, Address>)[kind]!;
  let registered: boolean;
  try {
    // the three registries share isRegistered(address)
    registered = await isRegisteredApp(c.publicClient, c.deployment[REGISTRY[kind]], asset);
  } catch (e) {
    throw decodeChainError(e);
  }
  if (!registered)
    throw new SealworkError('ASSET_NOT_REGISTERED', `No ${kind} is registered at ${asset} on this chain.`, {
      hint: `Deploy it first (\`sealwork ${kind} deploy\`), or check the address and --chain-url.`,
      details: { [kind]: asset },
    });
  const owner = await assetOwner(c.publicClient, asset);
  if (owner !== signer)
    throw new SealworkError(
      'ORDER_SIGNER_NOT_OWNER',
      `Only the owner ${owner} of ${kind} ${asset} can sign its orders; the wallet is ${signer}.`,
      {
        hint: 'Sign with the owner’s wallet (SEALWORK_PRIVATE_KEY, `sealwork wallet`, or --as on the embedded chain).',
      },
    );
}

export function signedOrderToJson(s: SignedOrderFile): Record<string, unknown> {
  return { kind: s.kind, chainId: s.chainId, hub: s.hub, order: orderToJson(s.order) };
}

function inferKind(o: Record<string, unknown>): OrderKind | undefined {
  if ('requester' in o) return 'request';
  if ('appprice' in o) return 'app';
  if ('datasetprice' in o) return 'dataset';
  if ('workerpoolprice' in o) return 'workerpool';
  return undefined;
}

/**
 * Read an order file written by `order sign` (or a bare iExec order JSON; its kind is inferred).
 * With `expected`, any other kind is refused, so the result is typed as that kind.
 */
export async function readOrderFile<K extends OrderKind = OrderKind>(
  path: string,
  expected?: K,
): Promise<Extract<SignedOrderFile, { kind: K }>> {
  let text: string;
  try {
    text = await fs.readFile(resolve(path), 'utf8');
  } catch (e) {
    throw fsError(e, path, 'read order file');
  }
  return parseOrderFile(text, path, expected);
}

/** The text of an order file (see readOrderFile); `path` names it in errors. */
export function parseOrderFile<K extends OrderKind = OrderKind>(
  text: string,
  path: string,
  expected?: K,
): Extract<SignedOrderFile, { kind: K }> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new SealworkError('ORDER_INVALID', `${path} is not JSON.`);
  }
  const isObject = (v: unknown): v is Record<string, unknown> =>
    typeof v === 'object' && v !== null && !Array.isArray(v);
  if (!isObject(parsed) || (parsed.order !== undefined && !isObject(parsed.order)))
    throw new SealworkError('ORDER_INVALID', `${path} is not an order file (a JSON object).`, {
      hint: 'Use a file written by `sealwork order sign`.',
    });
  const json = parsed;
  const raw = (json.order ?? json) as Record<string, unknown>;
  const kind = (json.kind as OrderKind | undefined) ?? inferKind(raw);
  if (!kind || !['app', 'dataset', 'workerpool', 'request'].includes(kind))
    throw new SealworkError('ORDER_INVALID', `${path} is not an order file.`, {
      hint: 'Use a file written by `sealwork order sign`.',
    });
  if (expected && kind !== expected)
    throw new SealworkError('ORDER_KIND_MISMATCH', `${path} holds a ${kind} order, not a ${expected} order.`);
  const order = orderFromJson(kind, raw);
  const chainId = json.chainId ?? 0;
  const hub = json.hub ?? zeroAddress;
  if (!Number.isSafeInteger(chainId) || (chainId as number) < 0)
    throw new SealworkError('ORDER_INVALID', `${path}: chainId is not a chain id.`);
  if (typeof hub !== 'string' || !isAddress(hub, { strict: true }))
    throw new SealworkError('ORDER_INVALID', `${path}: hub is not an address.`);
  return { kind, chainId, hub, order } as Extract<SignedOrderFile, { kind: K }>; // kind checked against `expected` above
}

/** Refuse an order file signed for another chain or hub (its signature could not verify here). */
export function assertOrderDomain(
  s: SignedOrderFile,
  deployment: { chainId: number; hub: Address },
  file: string,
): void {
  if (s.chainId === 0) return; // a bare iExec order: no recorded domain
  if (s.chainId !== deployment.chainId || s.hub.toLowerCase() !== deployment.hub.toLowerCase())
    throw new SealworkError(
      'ORDER_WRONG_CHAIN',
      `${file} was signed for hub ${s.hub} on chain ${s.chainId}; the configured chain is ${deployment.chainId} with hub ${deployment.hub}.`,
      { hint: 'Sign the order again on this chain, or pass the right --chain-url.' },
    );
}

/** Read an order file, check it was signed for this chain, and publish or cancel it. */
async function sendOrderFile(
  p: ChainParameters & { file: string },
  write: (c: ChainWriter, kind: OrderKind, order: AnyOrder) => Promise<TxResult & { orderHash: Hex }>,
): Promise<{ kind: OrderKind; orderHash: Hex; txHash: Hex }> {
  const s = await readOrderFile(p.file);
  const c = await connect(p, true);
  assertOrderDomain(s, c.deployment, p.file);
  const r = await write(c, s.kind, s.order);
  return { kind: s.kind, orderHash: r.orderHash, txHash: r.txHash };
}

export async function publishOrderFile(
  p: ChainParameters & { file: string },
): Promise<{ kind: OrderKind; orderHash: Hex; txHash: Hex }> {
  return sendOrderFile(p, publishOrder);
}

export async function cancelOrderFile(
  p: ChainParameters & { file: string },
): Promise<{ kind: OrderKind; orderHash: Hex; txHash: Hex }> {
  return sendOrderFile(p, cancelOrder);
}

/** Published orders with volume left (or all with `all`), read from the chain's events. */
export async function listMarket(p: ChainParameters & ListOrdersFilter): Promise<PublishedOrder[]> {
  if (p.kind !== undefined && !ORDER_KINDS.includes(p.kind))
    throw new SealworkError('ORDER_KIND_INVALID', `--kind ${p.kind} is not an order kind.`, {
      hint: `Use one of: ${ORDER_KINDS.join(', ')}.`,
    });
  const filter: ListOrdersFilter = { kind: p.kind, all: p.all };
  for (const f of ['app', 'dataset', 'workerpool', 'requester'] as const)
    if (p[f] !== undefined) filter[f] = addr(p[f], f);
  const c = await connect(p);
  return listOrders(c.publicClient, c.deployment, filter);
}

/** Consumed volume of an order file on chain. */
export async function orderStatus(
  p: ChainParameters & { file: string },
): Promise<{ kind: OrderKind; orderHash: Hex; volume: bigint; consumed: bigint }> {
  const s = await readOrderFile(p.file);
  const c = await connect(p);
  const orderHash = hashOrder(s.kind, s.order, {
    chainId: c.deployment.chainId,
    hub: c.deployment.hub,
  });
  const consumed = await readConsumed(c.publicClient, c.deployment.hub, orderHash);
  return { kind: s.kind, orderHash, volume: s.order.volume, consumed };
}
