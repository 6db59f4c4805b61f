// A per-process cache of instance lookups (found and not found), bounded (LRU) and coherent across
// replicas: every write to instances, by any process, drops the URL through LISTEN/NOTIFY, and this
// process's own writes drop it before they answer. While the listener is deaf, lookups read the database.
import type { KyselyPlugin } from 'kysely';
import type { Database } from '../db/database.js';
import { INSTANCE_CHANGES_CHANNEL, type NotificationListener } from '../db/notifications.js';
import { tableWritesPlugin } from '../db/table-writes.js';
import { createCoherentCache } from './coherent-cache.js';
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
}

/** Tables whose writes change what a lookup answers. */
const LOOKUP_TABLES = new Set(['instances', 'instance_aliases']);

/** Reads straight from the database: what the cache answers when it is off. */
function uncached(database: Database): InstanceLookupCache {
  return { find: (url) => findInstanceLookupRow(database.db, url), serving: false, close: async () => {} };
}

/**
 * Staleness bound: a write is invisible here for at most the NOTIFY delivery time (milliseconds)
 * while the listener is connected. A lost connection is noticed at once when the socket closes, and
 * within two of the listener's heartbeats when it goes silent; from then until it listens again (and has dropped
 * everything) every lookup reads the database. maxAgeMs bounds anything else.
 */
export function createInstanceLookupCache(database: Database, notifications: NotificationListener, options: InstanceLookupCacheOptions): InstanceLookupCache {
  if (options.maxEntries === 0) return uncached(database);
  const entries = createCoherentCache<InstanceLookupRow>({ maxEntries: options.maxEntries, maxAgeMs: options.maxAgeMs, keepMissing: true });
  const stopListening = notifications.listen(
    INSTANCE_CHANGES_CHANNEL,
    {
      changed(url) {
        if (url === '') entries.dropAll();
        else entries.drop(url);
      },
      listening: entries.listening,
      deaf: entries.deaf,
    },
  );

  return {
    plugin: tableWritesPlugin(LOOKUP_TABLES, entries.dropAll),
    get serving() {
      return entries.serving;
    },
    find: (url) => entries.read(url, () => findInstanceLookupRow(database.db, url)),
    async close() {
      entries.deaf();
      await stopListening();
    },
  };
}
