// Refreshing a stored credential (a user's OAuth tokens, the bot's personal access token) once across
// processes, and when it is due. The only place that knows the mechanism: a plain read, then, when the
// credential is due, a NOWAIT row lock whose holder alone calls GitLab (db/row-lock.ts explains why
// the wait happens off the pool).
import type { Transaction } from 'kysely';
import { RowLockWaitExceeded, retryWhileRowLocked } from '../db/row-lock.js';
import type { DB } from '../db/types.js';
import { AppError } from '../errors.js';
import type { ServiceDeps } from './deps.js';

/**
 * Due when less than min(margin, lifetime / 2) is left: a credential that lives less than twice the
 * margin is refreshed at half its lifetime, so one refreshed a moment ago is never due at once.
 * Never due without an expiry; an unknown issue time means an unknown (unbounded) lifetime.
 */
export function isDue(credential: { expiresAt: Date | null; issuedAt: Date | null }, now: Date, marginMs: number): boolean {
  if (credential.expiresAt === null) return false;
  const expiresAt = credential.expiresAt.getTime();
  const lifetime = credential.issuedAt ? expiresAt - credential.issuedAt.getTime() : Infinity;
  return expiresAt - now.getTime() < Math.min(marginMs, lifetime / 2);
}

/**
 * Runs `attempt` again and again while it fails on a NOWAIT lock held elsewhere. The holder makes up
 * to `holderGitlabCalls` GitLab calls of GITLAB_TIMEOUT_MS each; waiting longer than that (plus room
 * for its database work) means something is stuck: gitlab_timeout.
 */
async function whileLocked<T>(deps: ServiceDeps, holderGitlabCalls: number, attempt: () => Promise<T>): Promise<T> {
  const timeoutMs = deps.config.gitlabTimeoutMs;
  try {
    return await retryWhileRowLocked(attempt, { gitlabTimeoutMs: timeoutMs, slackMs: (holderGitlabCalls - 1) * timeoutMs + 5000 });
  } catch (error) {
    if (error instanceof RowLockWaitExceeded) {
      throw new AppError('gitlab_timeout', 'Another request has been updating this token for longer than GitLab may take to answer; try again');
    }
    throw error;
  }
}

/** Runs `work` in a transaction whose NOWAIT row lock may be held by a refresh making `holderGitlabCalls` GitLab calls. */
export function inLockedTransaction<T>(deps: ServiceDeps, holderGitlabCalls: number, work: (trx: Transaction<DB>) => Promise<T>): Promise<T> {
  return whileLocked(deps, holderGitlabCalls, () => deps.db.transaction().execute(work));
}

export interface SingleFlightRefresh<Stored, Result> {
  /** The plain read (throws when there is nothing usable). */
  read(): Promise<Stored>;
  /** The same read under the row lock, inside `trx`. */
  lock(trx: Transaction<DB>): Promise<Stored>;
  /** The sealed credential: when it changed between read and lock, someone else refreshed. */
  sealedOf(stored: Stored): string;
  isDue(stored: Stored, now: Date): boolean;
  /** The stored credential as it is. */
  serve(stored: Stored): Result;
  /** Under the lock: call GitLab and store what it gave; only `trx` may be used (PGlite has one connection). */
  refresh(trx: Transaction<DB>, stored: Stored, now: Date): Promise<Result>;
  /** GitLab calls a refresh makes at most: the budget for waiting on its lock. */
  holderGitlabCalls: number;
}

/**
 * Serves the stored credential, or refreshes it first when due: of many concurrent callers, in one
 * process or many sharing the database, exactly one refreshes; the others wait for its lock, then
 * read its result (a changed sealed value, or no longer due) and serve that.
 */
export function refreshOnce<Stored, Result>(deps: ServiceDeps, flight: SingleFlightRefresh<Stored, Result>): Promise<Result> {
  // A waiter starts again from the plain read, which by then usually finds the fresh credential.
  return whileLocked(deps, flight.holderGitlabCalls, async () => {
    const seen = await flight.read();
    if (!flight.isDue(seen, deps.clock())) return flight.serve(seen);
    // Only `trx` inside: on PGlite (one connection) a query on deps.db here would wait forever.
    return deps.db.transaction().execute(async (trx) => {
      const locked = await flight.lock(trx);
      const now = deps.clock();
      if (flight.sealedOf(locked) !== flight.sealedOf(seen) || !flight.isDue(locked, now)) return flight.serve(locked);
      return flight.refresh(trx, locked, now);
    });
  });
}
