/** The order book read from the chain itself: Broadcast*Order events, minus consumed/cancelled volume. */
import type { Address, Hex, PublicClient } from 'viem';
import type { Deployment } from './deployment.js';
import { hubAbi } from './generated/hub.js';
import { hashOrder, type OrderByKind, type OrderKind } from './orders.js';

export interface ListOrdersFilter {
  kind?: OrderKind;
  app?: Address;
  dataset?: Address;
  workerpool?: Address;
  requester?: Address;
  /** Include fully consumed or cancelled orders. */
  all?: boolean;
}

export type PublishedOrder = {
  [K in OrderKind]: {
    kind: K;
    orderHash: Hex;
    order: OrderByKind[K];
    consumed: bigint;
    remaining: bigint;
    blockNumber: bigint;
    txHash: Hex;
  };
}[OrderKind];

const EVENT_KIND = {
  BroadcastAppOrder: 'app',
  BroadcastDatasetOrder: 'dataset',
  BroadcastWorkerpoolOrder: 'workerpool',
  BroadcastRequestOrder: 'request',
} as const;

const eq = (a: string | undefined, b: string | undefined) =>
  !a || (b !== undefined && a.toLowerCase() === b.toLowerCase());

export async function listOrders(
  client: PublicClient,
  deployment: Deployment,
  filter: ListOrdersFilter = {},
): Promise<PublishedOrder[]> {
  const logs = await client.getContractEvents({
    address: deployment.hub,
    abi: hubAbi,
    fromBlock: BigInt(deployment.blockNumber),
    toBlock: 'latest',
  });
  const domain = { chainId: deployment.chainId, hub: deployment.hub };
  const seen = new Set<string>();
  const out: PublishedOrder[] = [];
  for (const log of logs) {
    const kind = EVENT_KIND[log.eventName as keyof typeof EVENT_KIND];
    if (!kind || (filter.kind && filter.kind !== kind)) continue;
    const args = log.args as Record<string, unknown>;
    const order = (args.apporder ??
      args.datasetorder ??
      args.workerpoolorder ??
      args.requestorder) as OrderByKind[OrderKind];
    const o = order as unknown as Record<string, string | undefined>;
    const assets = {
      app: kind === 'app' || kind === 'request' ? o.app : undefined,
      dataset: kind === 'dataset' || kind === 'request' ? o.dataset : undefined,
      workerpool: kind === 'workerpool' || kind === 'request' ? o.workerpool : undefined,
      requester: kind === 'request' ? o.requester : undefined,
    };
    if (filter.app && !eq(filter.app, assets.app)) continue;
    if (filter.dataset && !eq(filter.dataset, assets.dataset)) continue;
    if (filter.workerpool && !eq(filter.workerpool, assets.workerpool)) continue;
    if (filter.requester && !eq(filter.requester, assets.requester)) continue;
    const orderHash = hashOrder(kind, order as never, domain);
    if (seen.has(orderHash)) continue;
    seen.add(orderHash);
    out.push({
      kind,
      orderHash,
      order,
      consumed: 0n,
      remaining: 0n,
      blockNumber: log.blockNumber,
      txHash: log.transactionHash,
    } as PublishedOrder);
  }
  const consumed = await Promise.all(
    out.map((p) =>
      client.readContract({
        address: deployment.hub,
        abi: hubAbi,
        functionName: 'viewConsumed',
        args: [p.orderHash],
      }),
    ),
  );
  out.forEach((p, i) => {
    p.consumed = consumed[i]!;
    const v = p.order.volume;
    p.remaining = v > p.consumed ? v - p.consumed : 0n;
  });
  return filter.all ? out : out.filter((p) => p.remaining > 0n);
}
