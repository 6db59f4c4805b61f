// All SQL of the upkeep: its run records, the instances it checks, the expired rows it deletes, and the
// adapter through which pg-boss (the job queue) runs its own SQL on the same database.
import { CompiledQuery, sql } from 'kysely';
import type { UpkeepRun } from '../domain/types.js';
import { fromRow } from './rows.js';
import type { Executor } from './types.js';

/** What pg-boss needs of a database (its `db` option): one statement with positional parameters. */
export interface JobStoreDb {
  executeSql(text: string, values?: unknown[]): Promise<{ rows: unknown[] }>;
}

/**
 * pg-boss's queries on the app's own pool (PGlite's single connection, or the PostgreSQL pool), so the
 * jobs live in the same database as everything else and no second pool is opened.
 */
export function jobStoreDb(db: Executor): JobStoreDb {
  return {
    async executeSql(text, values = []) {
      const result = await db.executeQuery(CompiledQuery.raw(text, values));
      return { rows: result.rows };
    },
  };
}

/** Records the start of a run; returns its id. */
export async function insertUpkeepRun(db: Executor, run: { job: string; instanceId: string | null; startedAt: Date }): Promise<string> {
  const row = await db.insertInto('upkeep_runs').values({ job: run.job, instance_id: run.instanceId, started_at: run.startedAt }).returning('id').executeTakeFirstOrThrow();
  return String(row.id);
}

/** Records how a run ended. */
export async function finishUpkeepRun(db: Executor, id: string, end: { finishedAt: Date; outcome: string; counts: Record<string, number | string>; error: string | null }): Promise<void> {
  await db.updateTable('upkeep_runs').set({ finished_at: end.finishedAt, outcome: end.outcome, counts: JSON.stringify(end.counts), error: end.error }).where('id', '=', id).execute();
}

/**
 * Runs still 'running' that started before `startedBefore` end as 'abandoned' at `now`, with `reason` as
 * their error (a late end of the run, should its handler still finish, overwrites it). Returns how many.
 */
export async function markAbandonedUpkeepRuns(db: Executor, startedBefore: Date, now: Date, reason: string): Promise<number> {
  const result = await db.updateTable('upkeep_runs').set({ outcome: 'abandoned', finished_at: now, error: reason }).where('outcome', '=', 'running').where('started_at', '<', startedBefore).executeTakeFirst();
  return Number(result.numUpdatedRows);
}

/** The most recent runs, newest first. */
export async function listUpkeepRuns(db: Executor, limit: number): Promise<UpkeepRun[]> {
  const rows = await db.selectFrom('upkeep_runs').selectAll().orderBy('id', 'desc').limit(limit).execute();
  return rows.map(fromRow);
}

/** Runs older than `cutoff` are dropped: the run list stays bounded. */
export async function deleteOldUpkeepRuns(db: Executor, cutoff: Date): Promise<number> {
  const result = await db.deleteFrom('upkeep_runs').where('started_at', '<', cutoff).executeTakeFirst();
  return Number(result.numDeletedRows);
}

/** The ids of the instances the upkeep checks: ready (degraded included), oldest check first. */
export async function listCheckableInstanceIds(db: Executor): Promise<string[]> {
  const rows = await db.selectFrom('instances').select('id').where('status', '=', 'ready').orderBy(sql`checked_at nulls first`).orderBy('id').execute();
  return rows.map((row) => row.id);
}

/** When the upkeep checks the instance next. */
export async function setNextCheckAt(db: Executor, id: string, at: Date): Promise<void> {
  await db.updateTable('instances').set({ next_check_at: at }).where('id', '=', id).execute();
}

/** Sessions past their expiry or revoked: nothing can use them again. Returns how many were deleted. */
export async function deleteDeadSessions(db: Executor, now: Date): Promise<number> {
  const result = await db
    .deleteFrom('sessions')
    .where((eb) => eb.or([eb('expires_at', '<=', now), eb('revoked_at', 'is not', null)]))
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}

/** Rate-limit windows that began before `cutoff`: no limit counts them any more. */
export async function deleteOldRateLimitWindows(db: Executor, cutoff: Date): Promise<number> {
  const result = await db.deleteFrom('rate_limit_windows').where('window_start', '<', cutoff).executeTakeFirst();
  return Number(result.numDeletedRows);
}
