// Instances and their audit trail.
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('instances')
    .addColumn('id', 'uuid', (col) => col.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('url', 'text', (col) => col.notNull().unique())
    .addColumn('status', 'text', (col) => col.notNull().check(sql`status in ('bootstrapping', 'failed', 'ready', 'removed')`))
    .addColumn('gitlab_version', 'text')
    .addColumn('ca_certificate', 'text')
    .addColumn('bot_user_id', 'bigint')
    .addColumn('bot_username', 'text')
    .addColumn('bot_token_id', 'bigint')
    .addColumn('bot_token_sealed', 'text')
    .addColumn('bot_token_expires_at', 'timestamptz')
    .addColumn('oauth_application_id', 'bigint')
    .addColumn('oauth_client_id', 'text')
    .addColumn('oauth_client_secret_sealed', 'text')
    .addColumn('oauth_scopes', 'text')
    .addColumn('oauth_redirect_uri', 'text')
    .addColumn('last_error_step', 'text')
    .addColumn('last_error_code', 'text')
    .addColumn('last_error_detail', 'text')
    .addColumn('bootstrap_lease_until', 'timestamptz')
    .addColumn('created_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .execute();

  await db.schema
    .createTable('instance_events')
    .addColumn('id', 'bigint', (col) => col.primaryKey().generatedAlwaysAsIdentity())
    .addColumn('instance_id', 'uuid', (col) => col.notNull().references('instances.id').onDelete('cascade'))
    .addColumn('step', 'text', (col) => col.notNull())
    .addColumn('outcome', 'text', (col) => col.notNull().check(sql`outcome in ('succeeded', 'failed', 'repaired', 'skipped')`))
    .addColumn('actor', 'text', (col) => col.notNull())
    .addColumn('detail', 'text')
    .addColumn('error_code', 'text')
    .addColumn('created_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('instance_events_instance_id_idx').on('instance_events').columns(['instance_id', 'id']).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('instance_events').execute();
  await db.schema.dropTable('instances').execute();
}
