/**
 * A bounded, per-process LRU of values that carry a version, where the caller knows the current version
 * without asking (authentication reads it with every request, in its one statement): an entry serves every
 * request whose version is not newer than its own, so a change seen by the database is seen at the next
 * request by every process — nothing to broadcast, nothing to miss. Concurrent misses of a key share one
 * load, and a hit is synchronous (no promise on the hot path).
 */
export interface VersionedCache<V> {
  /** The value of `key` at `version` at least: cached, or loaded (once for concurrent callers). */
  get(key: string, version: number): V | Promise<V>;
  readonly size: number;
  clear(): void;
}

export interface VersionedCacheOptions<V> {
  load(key: string): Promise<V>;
  /** The version a loaded value was read at. */
  versionOf(value: V): number;
  /** Default 10,000. */
  maxEntries?: number;
}

export function createVersionedCache<V>(options: VersionedCacheOptions<V>): VersionedCache<V> {
  const maxEntries = options.maxEntries ?? 10_000;
  const entries = new Map<string, V>();
  const loading = new Map<string, Promise<V>>();
  return {
    get(key, version) {
      const cached = entries.get(key);
      if (cached !== undefined && options.versionOf(cached) >= version) {
        // Most recently used last.
        entries.delete(key);
        entries.set(key, cached);
        return cached;
      }
      const pending = loading.get(key);
      if (pending) return pending;
      const load = options
        .load(key)
        .then((value) => {
          entries.delete(key);
          entries.set(key, value);
          if (entries.size > maxEntries) entries.delete(entries.keys().next().value!);
          return value;
        })
        .finally(() => loading.delete(key));
      loading.set(key, load);
      return load;
    },
    get size() {
      return entries.size;
    },
    clear: () => entries.clear(),
  };
}
