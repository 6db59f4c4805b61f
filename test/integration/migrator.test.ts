// migrateToLatest at start-up: an up-to-date database is recognised by its record of applied migrations,
// without Kysely's Migrator (its schema introspection and its advisory lock); any other record goes to the
// Migrator, which applies what is pending or refuses what it does not know.
import { DEFAULT_MIGRATION_LOCK_TABLE, DEFAULT_MIGRATION_TABLE, MIGRATION_LOCK_ID, Migrator, PostgresAdapter, sql, type Kysely } from 'kysely';
import pino from 'pino';
import t, { type Test } from 'tap';
import { migrations } from '../../migrations/index.js';
import { openPostgres } from '../../src/db/database.js';
import { migrateToLatest } from '../../src/db/migrator.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';

const serverUrl = process.env.TEST_DATABASE_URL;
const names = Object.keys(migrations);

/** A migrated test database, closed when `t` ends. */
async function migratedDatabase(t: Test): Promise<TestDatabase> {
  const test = await createTestDatabase();
  t.teardown(() => test.close());
  return test;
}

async function migratedDb(t: Test): Promise<Kysely<unknown>> {
  return (await migratedDatabase(t)).database.db as Kysely<unknown>;
}

t.test('an up-to-date database is checked without waiting for the migration lock another process holds', { skip: serverUrl ? false : 'needs TEST_DATABASE_URL (a PostgreSQL server)' }, async (t) => {
  const test = await migratedDatabase(t);
  const holder = openPostgres(test.url!, pino({ level: 'silent' }), 1);
  t.teardown(() => holder.close());
  // Kysely's own lock, taken as its Migrator takes it, on a connection kept checked out while the check runs.
  await holder.db.connection().execute(async (connection) => {
    await new PostgresAdapter().acquireMigrationLock(connection, { lockTable: DEFAULT_MIGRATION_LOCK_TABLE, lockRowId: MIGRATION_LOCK_ID });
    // The Migrator would wait for this lock until the pool's statement timeout cancelled it, and fail.
    t.same(await migrateToLatest(test.database.db as Kysely<unknown>), [], 'nothing pending, answered while the lock is held');
  });
});

t.test('an up-to-date database is left as it is: the Migrator, which would set up its lock table again, is not run', async (t) => {
  const db = await migratedDb(t);
  await db.schema.dropTable(DEFAULT_MIGRATION_LOCK_TABLE).execute();
  t.same(await migrateToLatest(db), []);
  const { rows: [lockTable] } = await sql<{ present: boolean }>`select to_regclass(${DEFAULT_MIGRATION_LOCK_TABLE}) is not null as present`.execute(db);
  t.equal(lockTable.present, false, 'no lock table: the Migrator did not run');
});

t.test('a pending migration is applied', async (t) => {
  const db = await migratedDb(t);
  await new Migrator({ db, provider: { getMigrations: () => Promise.resolve(migrations) } }).migrateDown();
  t.same(await migrateToLatest(db), [names.at(-1)], 'the migration taken down is applied again');
});

t.test('a record naming a migration this build does not have goes to the Migrator, which refuses it', async (t) => {
  const db = await migratedDb(t);
  const unknown = '29991231000000_from_a_newer_build';
  await db.insertInto(DEFAULT_MIGRATION_TABLE as never).values({ name: unknown, timestamp: new Date().toISOString() }).execute();
  await t.rejects(migrateToLatest(db), new RegExp(`corrupted migrations: previously executed migration ${unknown} is missing`), 'one more record than migrations');
  // As many records as migrations, one of them unknown: the count alone must not pass for up to date.
  await db.deleteFrom(DEFAULT_MIGRATION_TABLE as never).where(sql.ref('name'), '=', names.at(-1)).execute();
  await t.rejects(migrateToLatest(db), /corrupted migrations/, 'as many records as migrations, one unknown');
});
