// Installations of the bot on GitLab projects (issue 16) and the webhook events GitLab delivers to them.
// Every insert into webhook_events is announced on the channel `webhook_events`, so a long-polling feed
// reader (GET /internal/webhook-events?waitSeconds=) wakes as soon as an event is stored.
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('installations')
    .addColumn('id', 'uuid', (col) => col.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('instance_id', 'uuid', (col) => col.notNull().references('instances.id').onDelete('cascade'))
    .addColumn('project_id', 'bigint', (col) => col.notNull())
    .addColumn('path_with_namespace', 'text', (col) => col.notNull())
    .addColumn('hook_id', 'bigint')
    // sha256 (hex) of the hook's secret token: GitLab sends it in clear (X-Gitlab-Token); only its hash is kept.
    .addColumn('hook_token_hash', 'text')
    .addColumn('membership_added_by_us', 'boolean', (col) => col.notNull().defaultTo(false))
    .addColumn('installed_by', 'uuid', (col) => col.references('users.id').onDelete('set null'))
    .addColumn('broken_reason', 'text')
    .addColumn('checked_at', 'timestamptz')
    .addColumn('created_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .addUniqueConstraint('installations_instance_project_key', ['instance_id', 'project_id'])
    .execute();

  // No foreign key to installations: events outlive an uninstall until the retention deletes them.
  await db.schema
    .createTable('webhook_events')
    .addColumn('id', 'bigserial', (col) => col.primaryKey())
    .addColumn('installation_id', 'uuid', (col) => col.notNull())
    .addColumn('instance_id', 'uuid', (col) => col.notNull())
    .addColumn('project_id', 'bigint', (col) => col.notNull())
    .addColumn('event_kind', 'text', (col) => col.notNull())
    // Idempotency-Key (GitLab 17.4+, kept across retries), else X-Gitlab-Event-UUID with the event kind.
    .addColumn('delivery_key', 'text', (col) => col.notNull())
    .addColumn('webhook_uuid', 'text')
    .addColumn('event_uuid', 'text')
    .addColumn('idempotency_key', 'text')
    // The JSON exactly as GitLab sent it (text, not jsonb: jsonb refuses \u0000 inside strings).
    .addColumn('body', 'text', (col) => col.notNull())
    .addColumn('body_bytes', 'integer', (col) => col.notNull())
    .addColumn('received_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    // The inserting transaction: the feed hands out only rows of transactions older than every running
    // one, so a row committed late never lands behind a reader's cursor.
    .addColumn('tx', sql`xid8`, (col) => col.notNull().defaultTo(sql`pg_current_xact_id()`))
    .addUniqueConstraint('webhook_events_delivery_key', ['installation_id', 'delivery_key'])
    .execute();
  await db.schema.createIndex('webhook_events_feed_idx').on('webhook_events').columns(['tx', 'id']).execute();
  await db.schema.createIndex('webhook_events_received_at_idx').on('webhook_events').column('received_at').execute();
  await sql`
    create function webhook_events_notify() returns trigger language plpgsql as $$
    begin
      perform pg_notify('webhook_events', '');
      return null;
    end
    $$`.execute(db);
  await sql`
    create trigger webhook_events_notify after insert on webhook_events
    for each statement execute function webhook_events_notify()`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop trigger webhook_events_notify on webhook_events`.execute(db);
  await sql`drop function webhook_events_notify()`.execute(db);
  await db.schema.dropTable('webhook_events').execute();
  await db.schema.dropTable('installations').execute();
}
