// Every write to an instance (insert, update, delete, by this service or anyone) announces the URLs it
// touched on the channel `instance_changes`, so each process's lookup cache drops them at once.
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  // The payload is the URL (at most 2048 characters, below NOTIFY's 8000-byte limit). An update that
  // moves an instance to another URL announces both, so a negative entry for the new URL goes too.
  await sql`
    create function instances_notify_change() returns trigger language plpgsql as $$
    begin
      if tg_op in ('UPDATE', 'DELETE') then
        perform pg_notify('instance_changes', old.url);
      end if;
      if tg_op = 'INSERT' or (tg_op = 'UPDATE' and new.url is distinct from old.url) then
        perform pg_notify('instance_changes', new.url);
      end if;
      return null;
    end
    $$`.execute(db);
  await sql`
    create trigger instances_notify_change after insert or update or delete on instances
    for each row execute function instances_notify_change()`.execute(db);
  // A truncate names no row: the empty payload tells every cache to drop everything.
  await sql`
    create function instances_notify_truncate() returns trigger language plpgsql as $$
    begin
      perform pg_notify('instance_changes', '');
      return null;
    end
    $$`.execute(db);
  await sql`create trigger instances_notify_truncate after truncate on instances for each statement execute function instances_notify_truncate()`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop trigger instances_notify_truncate on instances`.execute(db);
  await sql`drop function instances_notify_truncate()`.execute(db);
  await sql`drop trigger instances_notify_change on instances`.execute(db);
  await sql`drop function instances_notify_change()`.execute(db);
}
