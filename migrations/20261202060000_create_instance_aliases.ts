// Other URLs of a registered GitLab ("One GitLab, one instance"): lookup of an alias answers for the
// instance it points to. Writes announce the alias URL on `instance_changes`, as instance writes do,
// so every process's lookup cache drops it.
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('instance_aliases')
    .addColumn('url', 'text', (col) => col.primaryKey())
    .addColumn('instance_id', 'uuid', (col) => col.notNull().references('instances.id').onDelete('cascade'))
    .addColumn('created_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('instance_aliases_instance_id_idx').on('instance_aliases').column('instance_id').execute();
  // instances_notify_change() reads old.url / new.url, which instance_aliases has too.
  await sql`
    create trigger instance_aliases_notify_change after insert or update or delete on instance_aliases
    for each row execute function instances_notify_change()`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop trigger instance_aliases_notify_change on instance_aliases`.execute(db);
  await db.schema.dropTable('instance_aliases').execute();
}
