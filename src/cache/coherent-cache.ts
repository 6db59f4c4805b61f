// The one mechanism behind the per-process read caches (instance lookups, sessions, users' token
// reads): a bounded LRU of database reads that a notification listener keeps coherent. While the
// listener hears every change the cache serves; a change drops what it touched; while the listener is
// deaf every read goes to the database; a read that a change overtook is answered but not kept.
import { LRUCache } from 'lru-cache';

export interface CoherentCacheOptions {
  /** Most keys kept, least recently used evicted first (at least 1). */
  maxEntries: number;
  /** Safety net: an entry is read again after this long even when no change was heard (ms). */
  maxAgeMs: number;
  /** Also keep "nothing there" answers (the lookup of an unknown URL), dropped by the same changes. */
  keepMissing: boolean;
}

export interface CoherentCache<V extends object> {
  /** True while entries are served: the listener hears every change. */
  readonly serving: boolean;
  /** The entry of `key`, else `load()`'s answer, kept unless a change was heard while it loaded. */
  read(key: string, load: () => Promise<V | undefined>): Promise<V | undefined>;
  /** A change touched `key`. */
  drop: (key: string) => void;
  /** A change touched every entry `matches` accepts (e.g. each session of one user). */
  dropWhere: (matches: (value: V) => boolean) => void;
  /** A change touched anything (a truncate, a write through this process that names no key). */
  dropAll: () => void;
  /** The listener hears every change from now on: what was kept before may be stale, so it goes; entries are served. */
  listening: () => void;
  /** The listener lost its connection: changes may go unheard, so reads go to the database. */
  deaf: () => void;
}

const MISSING = { missing: true } as const;

/** An LRU kept coherent by the caller's listener (it calls drop*, listening and deaf); it starts deaf. */
export function createCoherentCache<V extends object>(options: CoherentCacheOptions): CoherentCache<V> {
  const entries = new LRUCache<string, V | typeof MISSING>({ max: options.maxEntries, ttl: options.maxAgeMs, ttlAutopurge: false });
  let serving = false;
  // Bumped by every change heard: a read that started before a change must not be kept after it.
  let generation = 0;
  const dropAll = () => {
    generation++;
    entries.clear();
  };
  return {
    get serving() {
      return serving;
    },
    async read(key, load) {
      if (!serving) return load();
      const kept = entries.get(key);
      if (kept) return kept === MISSING ? undefined : (kept as V);
      const seen = generation;
      const value = await load();
      // deaf() may have run during the await: read `serving` afresh.
      if ((serving as boolean) && seen === generation && (value || options.keepMissing)) entries.set(key, value ?? MISSING);
      return value;
    },
    drop: (key) => {
      generation++;
      entries.delete(key);
    },
    dropWhere: (matches) => {
      generation++;
      const touched = [...entries.entries()].filter(([, value]) => value !== MISSING && matches(value as V));
      for (const [key] of touched) entries.delete(key);
    },
    dropAll,
    listening: () => {
      dropAll();
      serving = true;
    },
    deaf: () => {
      serving = false;
      dropAll();
    },
  };
}
