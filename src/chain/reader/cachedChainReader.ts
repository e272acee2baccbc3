import type { ChainReader, ChainReaderStats } from './types.js';

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
