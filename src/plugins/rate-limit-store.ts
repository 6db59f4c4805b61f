// A store for @fastify/rate-limit that counts in the database, so a limit holds across processes
// (its default store counts in each process's memory).
import type { Kysely } from 'kysely';
import { countHit } from '../db/rate-limit.repo.js';
import type { DB } from '../db/types.js';

type IncrCallback = (error: Error | null, result?: { current: number; ttl: number }) => void;

export function databaseRateLimitStore(db: Kysely<DB>, clock: () => Date) {
  return class DatabaseRateLimitStore {
    incr(key: string, callback: IncrCallback, timeWindow: number): void {
      const now = clock().getTime();
      const windowStart = Math.floor(now / timeWindow) * timeWindow;
      countHit(db, key, new Date(windowStart), timeWindow).then(
        (current) => callback(null, { current, ttl: windowStart + timeWindow - now }),
        (error: Error) => callback(error),
      );
    }

    child(): DatabaseRateLimitStore {
      return this;
    }
  };
}
