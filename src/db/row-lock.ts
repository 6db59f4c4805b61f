// Waiting for a row lock without holding a pooled connection. The locks that guard a GitLab call (a
// user's token refresh, a bot token rotation) are held for as long as GitLab takes to answer; a caller
// queued behind one on FOR UPDATE would hold its connection all that time, and a burst of such callers
// would empty the pool for every other request. So the lock is taken with FOR UPDATE NOWAIT, and a
// caller that finds it taken ends its transaction, waits a little, and starts again from its plain
// read, which by then usually finds the fresh token and needs no lock at all.
import { setTimeout as sleep } from 'node:timers/promises';

/** PostgreSQL's lock_not_available: pg and PGlite both surface it as the error's `code`. */
const LOCK_NOT_AVAILABLE = '55P03';
const FIRST_WAIT_MS = 25;
const MAX_WAIT_MS = 200;
/** Beyond the holder's own GitLab deadline, room for its database work. */
const DEFAULT_SLACK_MS = 5000;

/** The row stayed locked past the caller's budget; the caller decides what that means for its client. */
export class RowLockWaitExceeded extends Error {}

export function isLockNotAvailable(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === LOCK_NOT_AVAILABLE;
}

/**
 * Runs `attempt` until it does not fail with lock_not_available, waiting 25 ms, then twice as long
 * each time up to 200 ms. The holder's GitLab call ends within GITLAB_TIMEOUT_MS, so waiting longer
 * than that (plus slack) means something is stuck: RowLockWaitExceeded. `attempt` must be safe to repeat
 * after lock_not_available, i.e. take its NOWAIT lock before doing anything outside the transaction.
 */
export async function retryWhileRowLocked<T>(attempt: () => Promise<T>, options: { gitlabTimeoutMs: number; slackMs?: number }): Promise<T> {
  const deadline = performance.now() + options.gitlabTimeoutMs + (options.slackMs ?? DEFAULT_SLACK_MS);
  for (let wait = FIRST_WAIT_MS; ; wait = Math.min(wait * 2, MAX_WAIT_MS)) {
    try {
      return await attempt();
    } catch (error) {
      if (!isLockNotAvailable(error)) throw error;
      if (performance.now() + wait > deadline) {
        throw new RowLockWaitExceeded(`The row stayed locked for longer than ${options.gitlabTimeoutMs + (options.slackMs ?? DEFAULT_SLACK_MS)} ms`);
      }
      await sleep(wait);
    }
  }
}
