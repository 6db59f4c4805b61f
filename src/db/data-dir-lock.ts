// The embedded database's single-process lock on DATA_DIR: a proper-lockfile lock whose freshness the
// holder renews, so a holder that died lets go on its own (no pid check, so a reused pid never blocks).
import { join } from 'node:path';
import lockfile from 'proper-lockfile';

export class DatabaseLockedError extends Error {}

export const DATA_DIR_LOCK = 'gitlab-connect.lock';

/** How the lock behaves: a lock not renewed for `staleMs` belongs to a dead process and is taken over. */
export const LOCK_TIMING = { staleMs: 10_000, updateMs: 2_500 } as const;

/**
 * Locks `directory` for this process; resolves to the release function. Waits up to about `staleMs` for
 * a lock left by a process that just died to go stale. Throws DatabaseLockedError when a live process
 * holds it. If the lock is lost while held (the directory removed, the event loop blocked past `staleMs`)
 * proper-lockfile throws outside any request, which stops the process: two writers would lose data.
 */
export async function lockDataDirectory(directory: string): Promise<() => Promise<void>> {
  try {
    return await lockfile.lock(directory, {
      realpath: false,
      lockfilePath: join(directory, DATA_DIR_LOCK),
      stale: LOCK_TIMING.staleMs,
      update: LOCK_TIMING.updateMs,
      retries: { retries: Math.ceil(LOCK_TIMING.staleMs / LOCK_TIMING.updateMs), factor: 1, minTimeout: LOCK_TIMING.updateMs, maxTimeout: LOCK_TIMING.updateMs },
    });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ELOCKED') throw error;
    throw new DatabaseLockedError(
      `DATA_DIR ${directory} is in use by another live process; the embedded database allows one process (stop the other one, or set DATABASE_URL to share PostgreSQL)`,
    );
  }
}
