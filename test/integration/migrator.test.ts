// migrateToLatest at start-up: an up-to-date database is recognised by its record of applied migrations,
// without Kysely's Migrator (its schema introspection and its advisory lock); any other record goes to the
// Migrator, which applies what is pending or refuses what it does not know.
import type { Kysely } from 'kysely';
import pg from 'pg';
import t from 'tap';
import { migrateToLatest } from '../../src/db/migrator.js';
import { createTestDatabase } from '../helpers/database.js';

const serverUrl = process.env.TEST_DATABASE_URL;
/** Kysely's PostgreSQL migration lock (kysely/dist/cjs/dialect/postgres/postgres-adapter.js, LOCK_ID). */
const KYSELY_MIGRATION_LOCK = '3853314791062309107';

t.test('an up-to-date database is checked without waiting for the migration lock another process holds', { skip: serverUrl ? false : 'needs TEST_DATABASE_URL (a PostgreSQL server)' }, async (t) => {
  const test = await createTestDatabase();
  t.teardown(() => test.close());
  const holder = new pg.Client({ connectionString: test.url });
  await holder.connect();
  t.teardown(() => holder.end());
  await holder.query('select pg_advisory_lock($1)', [KYSELY_MIGRATION_LOCK]);
  // The Migrator would wait for this lock until the pool's statement timeout cancelled it, and fail.
  t.same(await migrateToLatest(test.database.db as Kysely<unknown>), [], 'nothing pending, answered while the lock is held');
});

t.test('a record naming a migration this build does not have goes to the Migrator, which refuses it', async (t) => {
  const test = await createTestDatabase();
  t.teardown(() => test.close());
  const db = test.database.db as Kysely<unknown>;
  await db.insertInto('kysely_migration' as never).values({ name: '29991231000000_from_a_newer_build', timestamp: new Date().toISOString() }).execute();
  await t.rejects(migrateToLatest(db), /corrupted migrations: previously executed migration 29991231000000_from_a_newer_build is missing/);
});
