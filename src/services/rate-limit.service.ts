// Fixed-window request counting shared by every process on the database (the rate-limit store's back end).
import { countHit } from '../db/rate-limit.repo.js';
import type { ServiceDeps } from './deps.js';

/** Counts one hit of `key` in the current window of `windowMs`; returns the hits so far and the ms left in the window. */
export async function countRequest(deps: ServiceDeps, key: string, windowMs: number): Promise<{ current: number; ttl: number }> {
  const now = deps.clock().getTime();
  const windowStart = Math.floor(now / windowMs) * windowMs;
  const current = await countHit(deps.db, key, new Date(windowStart), windowMs);
  return { current, ttl: windowStart + windowMs - now };
}
