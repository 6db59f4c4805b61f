// A per-process cache of instance lookups (found and not found), bounded (LRU) and coherent across
// replicas: every write to instances, by any process, drops the URL through LISTEN/NOTIFY, and this
// process's own writes drop it before they answer. While the listener is deaf, lookups read the database.
import { LRUCache } from 'lru-cache';
import type { KyselyPlugin } from 'kysely';
import type { Logger } from 'pino';
import type { Database } from '../db/database.js';
import { instanceWritesPlugin, listenForInstanceChanges } from '../db/instance-changes.js';
import { findInstanceLookupRow, type InstanceLookupRow } from '../db/instance-lookup.repo.js';

/** What lookupInstance reads: the instance registered at a normalised URL, or undefined. */
export interface InstanceLookups {
  find(url: string): Promise<InstanceLookupRow | undefined>;
}

export interface InstanceLookupCache extends InstanceLookups {
  /** Install on the Kysely instance the services write through (read-your-writes in this process). */
  readonly plugin?: KyselyPlugin;
  /** True while cached answers are served (the listener hears every change). */
  readonly serving: boolean;
  close(): Promise<void>;
}

export interface InstanceLookupCacheOptions {
  /** Most URLs kept (found or not); 0 turns the cache off. */
  maxEntries: number;
  /** Safety net: an entry is re-read after this long even if no change was heard (ms). */
  maxAgeMs: number;
  /** Silence after which the listener probes its connection; it bounds the detection of a lost one (ms). */
  heartbeatMs: number;
}

const NOT_FOUND = { notFound: true } as const;
type Entry = InstanceLookupRow | typeof NOT_FOUND;

/** Reads straight from the database: what the cache answers when it is off. */
function uncached(database: Database): InstanceLookupCache {
  return { find: (url) => findInstanceLookupRow(database.db, url), serving: false, close: async () => {} };
}

/**
 * Staleness bound: a write is invisible here for at most the NOTIFY delivery time (milliseconds)
 * while the listener is connected. A lost connection is noticed at once when the socket closes, and
 * within 2 × heartbeatMs when it goes silent; from then until it listens again (and has dropped
 * everything) every lookup reads the database. maxAgeMs bounds anything else.
 */
export function createInstanceLookupCache(database: Database, log: Logger, options: InstanceLookupCacheOptions): InstanceLookupCache {
  if (options.maxEntries === 0) return uncached(database);
  const entries = new LRUCache<string, Entry>({ max: options.maxEntries, ttl: options.maxAgeMs, ttlAutopurge: false });
  let serving = false;
  // Bumped by every change heard: a read that started before a change must not be stored after it.
  let generation = 0;
  const dropAll = () => {
    generation++;
    entries.clear();
  };
  const stopListening = listenForInstanceChanges(
    database,
    log,
    {
      changed(url) {
        generation++;
        if (url === '') entries.clear();
        else entries.delete(url);
      },
      listening() {
        dropAll();
        serving = true;
      },
      deaf() {
        serving = false;
        generation++;
      },
    },
    { heartbeatMs: options.heartbeatMs, maxBackoffMs: 5000 },
  );

  return {
    plugin: instanceWritesPlugin(dropAll),
    get serving() {
      return serving;
    },
    async find(url) {
      if (!serving) return findInstanceLookupRow(database.db, url);
      const cached = entries.get(url);
      if (cached) return 'notFound' in cached ? undefined : cached;
      const seen = generation;
      const row = await findInstanceLookupRow(database.db, url);
      // close() may have run during the await: read `serving` afresh.
      if ((serving as boolean) && seen === generation) entries.set(url, row ?? NOT_FOUND);
      return row;
    },
    async close() {
      serving = false;
      await stopListening();
      entries.clear();
    },
  };
}
