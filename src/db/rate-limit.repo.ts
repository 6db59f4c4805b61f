// Fixed-window hit counters shared by every process on the database.
import { sql } from 'kysely';
import type { Executor } from './types.js';

/**
 * Counts one hit of `key` in the window starting at `windowStart`; returns the hits so far. Windows
 * older than the previous one are dropped (the previous one is kept for processes whose clocks lag).
 */
export async function countHit(db: Executor, key: string, windowStart: Date, windowMs: number): Promise<number> {
  await db.deleteFrom('rate_limit_windows').where('window_start', '<', new Date(windowStart.getTime() - windowMs)).execute();
  const row = await db
    .insertInto('rate_limit_windows')
    .values({ key, window_start: windowStart })
    .onConflict((conflict) => conflict.columns(['key', 'window_start']).doUpdateSet({ hits: sql<number>`rate_limit_windows.hits + 1` }))
    .returning('hits')
    .executeTakeFirstOrThrow();
  return row.hits;
}
