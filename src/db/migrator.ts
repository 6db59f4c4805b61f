// Applies the migrations of migrations/ (listed in migrations/index.ts, so that the bundle carries them).
import { Migrator, type Kysely } from 'kysely';
import { migrations } from '../../migrations/index.js';

/**
 * Brings the schema to the latest migration. Returns the names applied by this call (empty when none
 * was pending); throws the first failure as the migration threw it.
 */
export async function migrateToLatest(db: Kysely<unknown>): Promise<string[]> {
  const migrator = new Migrator({ db, provider: { getMigrations: () => Promise.resolve(migrations) } });
  const { error, results } = await migrator.migrateToLatest();
  // eslint-disable-next-line @typescript-eslint/only-throw-error -- Kysely reports whatever the migration threw (typed unknown); rethrown unchanged
  if (error) throw error;
  return (results ?? []).filter((result) => result.status === 'Success').map((result) => result.migrationName);
}
