// Applies the migrations of migrations/ (listed in migrations/index.ts, so that the bundle carries them).
import { DEFAULT_MIGRATION_TABLE, Migrator, sql, type Kysely } from 'kysely';
import { migrations } from '../../migrations/index.js';

/**
 * Whether every migration is recorded as applied, and nothing else: two short reads, where Kysely's
 * Migrator introspects every table's columns twice and takes its advisory lock (some 30 ms of each
 * start-up, and a wait while another replica holds that lock with nothing to apply). The table is
 * Kysely's DEFAULT_MIGRATION_TABLE, found through the search path as Kysely finds it. Kysely records a
 * migration in the transaction that applies it (PostgreSQL's DDL is transactional), so a recorded name is
 * a committed change. False on a database without the table (never migrated): the Migrator sets it up.
 */
async function upToDate(db: Kysely<unknown>): Promise<boolean> {
  const { rows: [table] } = await sql<{ present: boolean }>`select to_regclass(${DEFAULT_MIGRATION_TABLE}) is not null as present`.execute(db);
  if (!table.present) return false; // a select without FROM answers one row
  const { rows } = await sql<{ name: string }>`select name from ${sql.table(DEFAULT_MIGRATION_TABLE)}`.execute(db);
  const applied = rows.map((row) => row.name);
  const known = Object.keys(migrations);
  return applied.length === known.length && known.every((name) => applied.includes(name));
}

/**
 * Brings the schema to the latest migration. Returns the names applied by this call (empty when none
 * was pending); throws the first failure as the migration threw it. An up-to-date database costs two reads.
 */
export async function migrateToLatest(db: Kysely<unknown>): Promise<string[]> {
  if (await upToDate(db)) return [];
  const migrator = new Migrator({ db, provider: { getMigrations: () => Promise.resolve(migrations) } });
  const { error, results } = await migrator.migrateToLatest();
  // eslint-disable-next-line @typescript-eslint/only-throw-error -- Kysely reports whatever the migration threw (typed unknown); rethrown unchanged
  if (error) throw error;
  return (results ?? []).filter((result) => result.status === 'Success').map((result) => result.migrationName);
}
