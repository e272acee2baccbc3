/**
 * The subset of iExec's market API (the SDK's `iexecGatewayURL`) the `iexec` SDK v9 calls, as a
 * thin read model over the chain: the order book is the hub's Broadcast*Order events (minus the
 * consumed volume), the deals are its OrdersMatched events. Publishing broadcasts the owner-signed
 * order on the hub (the hub checks the owner's signature; the market's wallet only pays the gas).
 *
 *   GET  /challenge?chainId&address         EIP-712 challenge to sign (the SDK's authorization)
 *   POST /{app,dataset,workerpool,request}orders?chainId   {order}   → {ok, published: {orderHash}}
 *   GET  /{app,dataset,workerpool,request}orders?chainId&…  → {ok, count, orders, nextPage?}
 *   GET  /{kind}orders/<orderHash>?chainId  → a published order
 *   GET  /deals?chainId&requester[&app&dataset&workerpool]  → {ok, count, deals, nextPage?}
 *   GET  /deals?chainId&{app,dataset,workerpool,request}orderHash=<hash>  (fetchDealsBy*order)
 *   PUT  /{kind}orders (unpublish)          → 501: cancel on chain (`order.cancel*`) instead
 */
import { randomBytes } from 'node:crypto';
import { Hono, type Context } from 'hono';
import { hashTypedData, isAddress, recoverTypedDataAddress, type Address, type Hex } from 'viem';
import {
  assetOwner,
  getBlockTimestamp,
  listDeals,
  listOrders,
  orderFromJson,
  publishOrder,
  type ChainWriter,
  type MatchedDeal,
  type OrderKind,
  type PublishedOrder,
} from '../chain/index.js';
import { isSealworkError } from '../errors.js';

const KINDS: Record<string, OrderKind> = {
  apporders: 'app',
  datasetorders: 'dataset',
  workerpoolorders: 'workerpool',
  requestorders: 'request',
};

/** What the market reads from and writes with. */
export interface MarketContext {
  chainId: number;
  /** A writer whose wallet broadcasts published orders (pays the gas). */
  writer: ChainWriter;
}

const fail = (c: Context, status: 400 | 401 | 404 | 501, error: string) =>
  c.json({ ok: false, error }, status);

const CHALLENGE_TYPES = { Challenge: [{ name: 'challenge', type: 'string' }] } as const;

/** The challenge the SDK signs (EIP-712, as iExec's market API hands it out). */
function challengeTypedData(chainId: number, challenge: string) {
  return {
    domain: { name: 'iExec Gateway', version: '1', chainId },
    types: CHALLENGE_TYPES,
    primaryType: 'Challenge' as const,
    message: { challenge },
  };
}

/** The same, as JSON for the SDK (its types name the domain's fields too). */
function challengeJson(chainId: number, challenge: string) {
  const t = challengeTypedData(chainId, challenge);
  return {
    ...t,
    types: {
      EIP712Domain: [
        { name: 'name', type: 'string' },
        { name: 'version', type: 'string' },
        { name: 'chainId', type: 'uint256' },
      ],
      ...t.types,
    },
  };
}

/** Challenges handed out, by EIP-712 hash: single use, for one address, for 5 minutes. */
function challengeBook(chainId: number) {
  const issued = new Map<Hex, { address: string; challenge: string; expires: number }>();
  return {
    issue(address: Address) {
      const now = Date.now();
      for (const [h, v] of issued) if (v.expires < now) issued.delete(h);
      const challenge = randomBytes(32).toString('hex');
      issued.set(hashTypedData(challengeTypedData(chainId, challenge)), {
        address: address.toLowerCase(),
        challenge,
        expires: now + 300_000,
      });
      return challengeJson(chainId, challenge);
    },
    /** The address an `authorization` header (`hash_sign_address`) proves, or undefined. */
    async verify(header: string | undefined): Promise<Address | undefined> {
      const [hash, sign, address] = (header ?? '').split('_') as [Hex, Hex, Address];
      const entry = issued.get(hash);
      if (!entry || !isAddress(address ?? '') || entry.address !== address.toLowerCase()) return undefined;
      issued.delete(hash);
      const signer = await recoverTypedDataAddress({
        ...challengeTypedData(chainId, entry.challenge),
        signature: sign,
      }).catch(() => undefined);
      return signer && signer.toLowerCase() === entry.address ? signer : undefined;
    },
  };
}

const num = (v: bigint) => Number(v);

/** A published order as the market API answers it (numbers as numbers, as iExec's market). */
function publishedJson(p: PublishedOrder, chainId: number, timestamp: string) {
  const order: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(p.order)) order[k] = typeof v === 'bigint' ? num(v) : v;
  const o = p.order as unknown as Record<string, Address>;
  const signer = p.kind === 'request' ? o.requester : undefined;
  return {
    orderHash: p.orderHash,
    chainId,
    remaining: num(p.remaining),
    status: p.remaining > 0n ? 'open' : 'filled',
    ...(signer ? { signer } : {}),
    publicationTimestamp: timestamp,
    order,
  };
}

function dealJson(d: MatchedDeal, chainId: number) {
  const r = (x: { pointer: Address; owner: Address; price: bigint }) => ({ ...x, price: num(x.price) });
  return {
    chainId,
    dealid: d.dealid,
    app: r(d.app),
    dataset: r(d.dataset),
    workerpool: r(d.workerpool),
    appHash: d.appHash,
    datasetHash: d.datasetHash,
    workerpoolHash: d.workerpoolHash,
    requestHash: d.requestHash,
    trust: num(d.trust),
    category: num(d.category),
    tag: d.tag,
    requester: d.requester,
    beneficiary: d.beneficiary,
    callback: d.callback,
    params: d.params,
    startTime: num(d.startTime),
    botFirst: num(d.botFirst),
    botSize: num(d.botSize),
    workerStake: num(d.workerStake),
    schedulerRewardRatio: num(d.schedulerRewardRatio),
    volume: num(d.volume),
    blockNumber: num(d.blockNumber),
    transactionHash: d.txHash,
  };
}

/** One page of `items` as the market API pages (pageIndex from 0, pageSize 10…1000, default 20). */
function page<T>(items: T[], q: Record<string, string>): { count: number; items: T[]; nextPage?: number } {
  const size = Math.min(1000, Math.max(10, Number(q.pageSize ?? 20) || 20));
  const index = Math.max(0, Number(q.pageIndex ?? 0) || 0);
  const slice = items.slice(index * size, (index + 1) * size);
  return {
    count: items.length,
    items: slice,
    ...((index + 1) * size < items.length ? { nextPage: index + 1 } : {}),
  };
}

const sameOrAny = (restrict: string, wanted: string | undefined, strict: boolean) => {
  const zero = /^0x0{40}$/i.test(restrict);
  if (!wanted || wanted === 'any') return zero || wanted === 'any';
  return (!strict && zero) || restrict.toLowerCase() === wanted.toLowerCase();
};

const bitsIn = (tag: Hex, min: string | undefined, max: string | undefined) => {
  const t = BigInt(tag);
  if (min && (t & BigInt(min)) !== BigInt(min)) return false;
  if (max && (t & ~BigInt(max)) !== 0n) return false;
  return true;
};

/** The restrictions and filters of the SDK's orderbook queries, per kind. */
function orderMatchesQuery(
  p: PublishedOrder,
  q: Record<string, string>,
  owners: Map<string, string>,
): boolean {
  const o = p.order as unknown as Record<string, string> & { tag: Hex };
  const strict = (k: string) => q[k] === 'true';
  if (!bitsIn(o.tag, q.minTag, q.maxTag)) return false;
  if (q.minVolume && p.remaining < BigInt(q.minVolume)) return false;
  const ownerIs = (asset: string, want: string | undefined) =>
    !want || owners.get(asset.toLowerCase()) === want.toLowerCase();
  switch (p.kind) {
    case 'app':
      return (
        (!q.app || o.app!.toLowerCase() === q.app.toLowerCase()) &&
        ownerIs(o.app!, q.appOwner) &&
        sameOrAny(o.datasetrestrict!, q.dataset, strict('isDatasetStrict')) &&
        sameOrAny(o.workerpoolrestrict!, q.workerpool, strict('isWorkerpoolStrict')) &&
        sameOrAny(o.requesterrestrict!, q.requester, strict('isRequesterStrict'))
      );
    case 'dataset':
      return (
        (!q.dataset || o.dataset!.toLowerCase() === q.dataset.toLowerCase()) &&
        ownerIs(o.dataset!, q.datasetOwner) &&
        sameOrAny(o.apprestrict!, q.app, strict('isAppStrict')) &&
        sameOrAny(o.workerpoolrestrict!, q.workerpool, strict('isWorkerpoolStrict')) &&
        sameOrAny(o.requesterrestrict!, q.requester, strict('isRequesterStrict'))
      );
    case 'workerpool':
      return (
        (!q.workerpool ||
          q.workerpool === 'any' ||
          o.workerpool!.toLowerCase() === q.workerpool.toLowerCase()) &&
        ownerIs(o.workerpool!, q.workerpoolOwner) &&
        (q.category === undefined || String(o.category) === q.category) &&
        sameOrAny(o.apprestrict!, q.app, strict('isAppStrict')) &&
        sameOrAny(o.datasetrestrict!, q.dataset, strict('isDatasetStrict')) &&
        sameOrAny(o.requesterrestrict!, q.requester, strict('isRequesterStrict'))
      );
    case 'request':
      return (
        (!q.app || q.app === 'any' || o.app!.toLowerCase() === q.app.toLowerCase()) &&
        (!q.dataset || q.dataset === 'any' || o.dataset!.toLowerCase() === q.dataset.toLowerCase()) &&
        (!q.requester || q.requester === 'any' || o.requester!.toLowerCase() === q.requester.toLowerCase()) &&
        (q.category === undefined || String(o.category) === q.category) &&
        sameOrAny(o.workerpool!, q.workerpool, strict('isWorkerpoolStrict'))
      );
  }
}

/** Owners of the assets an `*Owner` query needs (asset address → owner, lower case). */
async function ownersFor(m: MarketContext, orders: PublishedOrder[], q: Record<string, string>) {
  const owners = new Map<string, string>();
  if (!q.appOwner && !q.datasetOwner && !q.workerpoolOwner) return owners;
  const assets = new Set(
    orders.map((p) => {
      const o = p.order as unknown as Record<string, string>;
      return (o.app ?? o.dataset ?? o.workerpool)!.toLowerCase();
    }),
  );
  for (const a of assets)
    owners.set(a, (await assetOwner(m.writer.publicClient, a as Address)).toLowerCase());
  return owners;
}

async function timestamps(m: MarketContext, orders: PublishedOrder[]): Promise<Map<bigint, string>> {
  const out = new Map<bigint, string>();
  for (const n of new Set(orders.map((p) => p.blockNumber)))
    out.set(n, new Date(Number(await getBlockTimestamp(m.writer.publicClient, n)) * 1000).toISOString());
  return out;
}

/** The market API app (see the file comment). */
export function createMarketApp(m: MarketContext): Hono {
  const app = new Hono();
  const challenges = challengeBook(m.chainId);
  const wrongChain = (c: Context) => {
    const id = c.req.query('chainId');
    return id !== undefined && Number(id) !== m.chainId ? fail(c, 404, `Unknown chainId ${id}`) : undefined;
  };

  app.get('/version', (c) => c.json({ ok: true, version: 'sealwork market (iExec market API subset)' }));
  app.get('/challenge', (c) => {
    const address = c.req.query('address') ?? '';
    if (!isAddress(address)) return fail(c, 400, 'address is not an address');
    return wrongChain(c) ?? c.json({ ok: true, data: challenges.issue(address) });
  });

  for (const [path, kind] of Object.entries(KINDS)) {
    app.post(`/${path}`, async (c) => {
      const bad = wrongChain(c);
      if (bad) return bad;
      const signer = await challenges.verify(c.req.header('authorization'));
      if (!signer) return fail(c, 401, 'invalid authorization');
      const body = (await c.req.json().catch(() => ({}))) as { order?: unknown };
      let order;
      try {
        order = orderFromJson(kind, body.order);
      } catch (e) {
        return fail(c, 400, isSealworkError(e) ? e.message : 'invalid order');
      }
      const o = order as unknown as Record<string, Address>;
      const owner =
        kind === 'request'
          ? o.requester!
          : await assetOwner(m.writer.publicClient, (o.app ?? o.dataset ?? o.workerpool)!);
      if (owner.toLowerCase() !== signer.toLowerCase())
        return fail(c, 401, `only the order's owner ${owner} may publish it`);
      try {
        const r = await publishOrder(m.writer, kind, order);
        return c.json({ ok: true, published: { orderHash: r.orderHash } });
      } catch (e) {
        return fail(c, 400, isSealworkError(e) ? `${e.code}: ${e.message}` : 'the hub refused the order');
      }
    });
    app.put(`/${path}`, (c) =>
      fail(
        c,
        501,
        'Unpublishing is not served: cancel the order on chain (order.cancel*), which closes it for everyone.',
      ),
    );
    app.get(`/${path}`, async (c) => {
      const bad = wrongChain(c);
      if (bad) return bad;
      const q = c.req.query();
      const all = await listOrders(m.writer.publicClient, m.writer.deployment, { kind });
      const owners = await ownersFor(m, all, q);
      const open = all.filter((p) => p.remaining > 0n && orderMatchesQuery(p, q, owners));
      const pg = page(open, q);
      const times = await timestamps(m, pg.items);
      return c.json({
        ok: true,
        count: pg.count,
        orders: pg.items.map((p) => publishedJson(p, m.chainId, times.get(p.blockNumber)!)),
        ...(pg.nextPage !== undefined ? { nextPage: pg.nextPage } : {}),
      });
    });
    app.get(`/${path}/:hash`, async (c) => {
      const bad = wrongChain(c);
      if (bad) return bad;
      const all = await listOrders(m.writer.publicClient, m.writer.deployment, { kind, all: true });
      const p = all.find((x) => x.orderHash.toLowerCase() === c.req.param('hash').toLowerCase());
      if (!p) return fail(c, 404, 'order not found');
      const times = await timestamps(m, [p]);
      return c.json({ ok: true, ...publishedJson(p, m.chainId, times.get(p.blockNumber)!) });
    });
  }

  app.get('/deals', async (c) => {
    const bad = wrongChain(c);
    if (bad) return bad;
    const q = c.req.query();
    const f = (k: string) => (q[k] && isAddress(q[k]) ? (q[k] as Address) : undefined);
    const deals = await listDeals(m.writer.publicClient, m.writer.deployment, {
      requester: f('requester'),
      app: f('app'),
      dataset: f('dataset'),
      workerpool: f('workerpool'),
    });
    // fetchDealsBy*order: one of the four order hashes.
    const byHash = (
      [
        ['apporderHash', 'appHash'],
        ['datasetorderHash', 'datasetHash'],
        ['workerpoolorderHash', 'workerpoolHash'],
        ['requestorderHash', 'requestHash'],
      ] as const
    ).filter(([param]) => q[param]);
    const matching = deals.filter((d) =>
      byHash.every(([param, field]) => d[field].toLowerCase() === q[param]!.toLowerCase()),
    );
    const pg = page(matching.reverse(), q);
    return c.json({
      ok: true,
      count: pg.count,
      deals: pg.items.map((d) => dealJson(d, m.chainId)),
      ...(pg.nextPage !== undefined ? { nextPage: pg.nextPage } : {}),
    });
  });
  app.onError((err, c) =>
    c.json({ ok: false, error: isSealworkError(err) ? err.message : 'internal error' }, 500),
  );
  app.notFound((c) => c.json({ ok: false, error: 'not found' }, 404));
  return app;
}
