// Rate-limit counters in the database, so that every process sharing it counts the same calls.
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('rate_limit_windows')
    .addColumn('key', 'text', (col) => col.notNull())
    .addColumn('window_start', 'timestamptz', (col) => col.notNull())
    .addColumn('hits', 'integer', (col) => col.notNull().defaultTo(sql`1`))
    .addPrimaryKeyConstraint('rate_limit_windows_pkey', ['key', 'window_start'])
    .execute();
  await db.schema.createIndex('rate_limit_windows_window_start_idx').on('rate_limit_windows').column('window_start').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('rate_limit_windows').execute();
}
