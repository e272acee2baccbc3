/**
 * What the SMS reads on chain, behind a small interface (implemented with the chain module in
 * chain-adapter.ts). Immutable data (an app's fingerprint, a dataset's URL and checksum, a deal)
 * may be cached; ownership and task status are always read fresh.
 */
import type { Address, Hex } from 'viem';

export type TaskStatusName = 'UNSET' | 'ACTIVE' | 'REVEALING' | 'COMPLETED' | 'FAILED';

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

export const ZERO_ADDRESS = '0x0000000000000000000000000000000000000000' as Address;

/** True when the deal's tag has the TEE bit (bit 0). */
export function isTeeTag(tag: Hex): boolean {
  return (BigInt(tag) & 1n) === 1n;
}

/** Thrown by chain readers when the node cannot be reached (→ 503). */
export function isChainUnavailable(e: unknown): boolean {
  const code = (e as { code?: unknown })?.code;
  return (
    code === 'CHAIN_UNAVAILABLE' ||
    code === 'CHAIN_UNREACHABLE' ||
    code === 'CHAIN_RPC_ERROR' ||
    (e as Error)?.name === 'HttpRequestError'
  );
}

/** Counters of what the cache saved (for the benchmark's breakdown). */
export interface ChainReaderStats {
  calls: Record<keyof ChainReader, number>;
  cacheHits: number;
}

/**
 * Cache the immutable reads (app, dataset, deal) — bounded, successful lookups only — and pass
 * owner() and task() through every time.
 */
export function cachedChainReader(
  inner: ChainReader,
  maxEntries = 10_000,
): ChainReader & { stats: ChainReaderStats } {
  const stats: ChainReaderStats = { calls: { owner: 0, app: 0, dataset: 0, deal: 0, task: 0 }, cacheHits: 0 };
  const caches = {
    app: new Map<string, unknown>(),
    dataset: new Map<string, unknown>(),
    deal: new Map<string, unknown>(),
  };
  const inflight = new Map<string, Promise<unknown>>();
  function cached<T>(
    kind: 'app' | 'dataset' | 'deal',
    key: string,
    load: () => Promise<T | undefined>,
  ): Promise<T | undefined> {
    const k = key.toLowerCase();
    const cache = caches[kind];
    if (cache.has(k)) {
      stats.cacheHits++;
      return Promise.resolve(cache.get(k) as T);
    }
    const fk = `${kind}:${k}`;
    const pending = inflight.get(fk);
    if (pending) {
      stats.cacheHits++;
      return pending as Promise<T | undefined>;
    }
    stats.calls[kind]++;
    const p = load()
      .then((v) => {
        if (v !== undefined) {
          if (cache.size >= maxEntries) cache.delete(cache.keys().next().value as string);
          cache.set(k, v);
        }
        return v;
      })
      .finally(() => inflight.delete(fk));
    inflight.set(fk, p);
    return p;
  }
  return {
    stats,
    owner(a) {
      stats.calls.owner++;
      return inner.owner(a);
    },
    task(t) {
      stats.calls.task++;
      return inner.task(t);
    },
    app: (a) => cached('app', a, () => inner.app(a)),
    dataset: (a) => cached('dataset', a, () => inner.dataset(a)),
    deal: (d) => cached('deal', d, () => inner.deal(d)),
  };
}
