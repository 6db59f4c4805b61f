// A store for @fastify/rate-limit that counts in the database, so a limit holds across processes
// (its default store counts in each process's memory).
import type { ServiceDeps } from '../services/deps.js';
import { countRequest } from '../services/rate-limit.service.js';

type IncrCallback = (error: Error | null, result?: { current: number; ttl: number }) => void;

/** A store class (the shape @fastify/rate-limit instantiates) counting through `deps.db` by `deps.clock`. */
export function databaseRateLimitStore(deps: ServiceDeps) {
  return class DatabaseRateLimitStore {
    incr(key: string, callback: IncrCallback, timeWindow: number): void {
      countRequest(deps, key, timeWindow).then(
        (result) => { callback(null, result); },
        (error: unknown) => { callback(error as Error); },
      );
    }

    child(): this {
      return this;
    }
  };
}
