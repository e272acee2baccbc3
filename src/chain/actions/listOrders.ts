/** The order book read from the chain itself: Broadcast*Order events, minus consumed/cancelled volume. */
import type { AbiEvent, Address, Hex, Log } from 'viem';
import { getBlockNumber, getLogs, readContract } from 'viem/actions';
import type { Deployment } from '../deployment.js';
import { decodeChainError } from '../errors.js';
import { hubAbi } from '../generated/hub.js';
import { hashOrder, type OrderByKind, type OrderKind } from '../orders.js';
import type { ReadClient } from '../types.js';

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

export interface ListOrdersOptions {
  /**
   * Blocks per eth_getLogs request (default 50 000). Public RPC endpoints cap the range of one
   * request; on an error the range is halved and retried (a few times) before giving up.
   */
  blockRange?: bigint;
}

const BROADCAST_EVENTS = hubAbi.filter(
  (x) => x.type === 'event' && x.name in EVENT_KIND,
) as unknown as readonly AbiEvent[];

/** Broadcast*Order logs of the hub since its deployment, read in block ranges. */
async function broadcastLogs(
  client: ReadClient,
  deployment: Deployment,
  kind: OrderKind | undefined,
  blockRange: bigint,
): Promise<Log[]> {
  const events = kind
    ? BROADCAST_EVENTS.filter((e) => EVENT_KIND[e.name as keyof typeof EVENT_KIND] === kind)
    : BROADCAST_EVENTS;
  const logs: Log[] = [];
  try {
    const latest = await getBlockNumber(client, { cacheTime: 0 });
    let from = BigInt(deployment.blockNumber);
    let span = blockRange > 0n ? blockRange : 1n;
    let retries = 0;
    while (from <= latest) {
      const to = from + span - 1n < latest ? from + span - 1n : latest;
      try {
        logs.push(
          ...(await getLogs(client, { address: deployment.hub, events, fromBlock: from, toBlock: to })),
        );
        from = to + 1n;
      } catch (e) {
        if (span === 1n || ++retries > 8) throw e;
        span /= 2n; // the endpoint may refuse wide ranges: retry narrower
      }
    }
  } catch (e) {
    throw decodeChainError(e);
  }
  return logs;
}

const eq = (a: string | undefined, b: string | undefined) =>
  !a || (b !== undefined && a.toLowerCase() === b.toLowerCase());

export async function listOrders(
  client: ReadClient,
  deployment: Deployment,
  filter: ListOrdersFilter = {},
  options: ListOrdersOptions = {},
): Promise<PublishedOrder[]> {
  const logs = (await broadcastLogs(
    client,
    deployment,
    filter.kind,
    options.blockRange ?? 50_000n,
  )) as (Log & { eventName: string; args: unknown })[];
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
    const orderHash = hashOrder(kind, order, domain);
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
  let consumed: bigint[];
  try {
    consumed = await Promise.all(
      out.map((p) =>
        readContract(client, {
          address: deployment.hub,
          abi: hubAbi,
          functionName: 'viewConsumed',
          args: [p.orderHash],
        }),
      ),
    );
  } catch (e) {
    throw decodeChainError(e);
  }
  out.forEach((p, i) => {
    p.consumed = consumed[i]!;
    const v = p.order.volume;
    p.remaining = v > p.consumed ? v - p.consumed : 0n;
  });
  return filter.all ? out : out.filter((p) => p.remaining > 0n);
}
