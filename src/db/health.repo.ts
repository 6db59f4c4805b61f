// The readiness probe's one query, bounded: a stalled database must not stall readiness.
import { sql } from 'kysely';
import type { Executor } from './types.js';

/**
 * Resolves when the database answers a trivial query within `timeoutMs` (milliseconds); rejects with the
 * driver's error, or with a timeout error when it stays silent (a partition without resets).
 */
export async function pingDatabase(db: Executor, timeoutMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => { reject(new Error(`Database did not answer within ${String(timeoutMs)} ms`)); }, timeoutMs);
  });
  try {
    await Promise.race([sql`select 1`.execute(db), deadline]);
  } finally {
    clearTimeout(timer);
  }
}
