// Per-process caches of the two reads that authenticated calls make on every request: a live session by
// its token's hash (GET /me and every session route) and a user with their instance's state (the
// internal token route). Bounded (LRU) and coherent across replicas as the lookup cache is: every update
// or delete of a user, session or instance, by any process, is announced on `user_changes` (migration
// 20261205010000) and drops what it touched; this process's own writes drop everything before they
// answer. While the listener is deaf, every read goes to the database.
import type { KyselyPlugin } from 'kysely';
import type { Database } from '../db/database.js';
import { USER_CHANGES_CHANNEL, type NotificationListener } from '../db/notifications.js';
import { tableWritesPlugin } from '../db/table-writes.js';
import { findLiveSession, type LiveSession } from '../db/sessions.repo.js';
import { findUserWithInstanceState, type UserInstanceState } from '../db/users.repo.js';
import type { User } from '../domain/types.js';
import { createCoherentCache } from './coherent-cache.js';

export type UserWithInstanceState = User & UserInstanceState;

/** The reads the services make through the cache. */
export interface UserReads {
  /** findLiveSession: a kept session is answered only while it has not expired at `now`. */
  liveSession(tokenHash: string, now: Date): Promise<LiveSession | undefined>;
  /** findUserWithInstanceState. */
  userWithInstanceState(id: string): Promise<UserWithInstanceState | undefined>;
}

export interface UserCache extends UserReads {
  /** Install on the Kysely instance the services write through (read-your-writes in this process). */
  readonly plugin?: KyselyPlugin;
  /** True while kept reads are served (the listener hears every change). */
  readonly serving: boolean;
  close(): Promise<void>;
}

export interface UserCacheOptions {
  /** Most sessions, and most users, kept (each); 0 turns the cache off. */
  maxEntries: number;
  /** Safety net: an entry is read again after this long even if no change was heard (ms). */
  maxAgeMs: number;
}

/** Tables whose writes change a kept read (each has the user_changes trigger). */
const ANNOUNCED_TABLES = new Set(['users', 'sessions', 'instances']);

/** Reads straight from the database: what the cache answers when it is off. */
function uncached(database: Database): UserCache {
  return {
    liveSession: (tokenHash, now) => findLiveSession(database.db, tokenHash, now),
    userWithInstanceState: (id) => findUserWithInstanceState(database.db, id),
    serving: false,
    close: async () => {},
  };
}

/**
 * Staleness bound: as the lookup cache's (instance-lookup-cache.ts): a write elsewhere is answered
 * here within the NOTIFY delivery time while the listener is connected; a lost connection sends every
 * read to the database until it listens again and has dropped everything; maxAgeMs bounds the rest.
 */
export function createUserCache(database: Database, notifications: NotificationListener, options: UserCacheOptions): UserCache {
  if (options.maxEntries === 0) return uncached(database);
  const cacheOptions = { maxEntries: options.maxEntries, maxAgeMs: options.maxAgeMs, keepMissing: false };
  const sessions = createCoherentCache<LiveSession>(cacheOptions);
  const users = createCoherentCache<UserWithInstanceState>(cacheOptions);
  const both = [sessions, users];
  const onBoth = (act: (cache: (typeof both)[number]) => void) => () => {
    for (const cache of both) act(cache);
  };
  const changed = (payload: string) => {
    const [kind, id] = payload.split(':', 2);
    if (kind === 'session') sessions.drop(id);
    else if (kind === 'user') {
      users.drop(id);
      sessions.dropWhere((session) => session.userId === id);
    } else if (kind === 'instance') {
      users.dropWhere((user) => user.instanceId === id);
      sessions.dropWhere((session) => session.instanceId === id);
    } else onBoth((cache) => { cache.dropAll(); })();
  };
  const stopListening = notifications.listen(USER_CHANGES_CHANNEL, { changed, listening: onBoth((cache) => { cache.listening(); }), deaf: onBoth((cache) => { cache.deaf(); }) });
  return {
    plugin: tableWritesPlugin(ANNOUNCED_TABLES, onBoth((cache) => { cache.dropAll(); })),
    get serving() {
      return users.serving;
    },
    async liveSession(tokenHash, now) {
      const session = await sessions.read(tokenHash, () => findLiveSession(database.db, tokenHash, now));
      return session && session.expiresAt > now ? session : undefined;
    },
    // Kept under the id as the trigger announces it: PostgreSQL's uuid text is lowercase, a caller's may not be.
    userWithInstanceState: (id) => users.read(id.toLowerCase(), () => findUserWithInstanceState(database.db, id)),
    async close() {
      onBoth((cache) => { cache.deaf(); })();
      await stopListening();
    },
  };
}
