// Every update or delete of a user, a session or an instance (by this service or anyone) is announced on
// the channel `user_changes`, so each process's session and user-token caches drop what it touched at once
// (src/cache/user-cache.ts). An insert is not announced: those caches keep no "not found" answers.
import { sql, type Kysely } from 'kysely';

/** Each announced table, with the column its payload names: `<kind>:<value>`. */
const ANNOUNCED = [
  { table: 'users', kind: 'user', column: 'id' },
  { table: 'sessions', kind: 'session', column: 'token_hash' },
  { table: 'instances', kind: 'instance', column: 'id' },
] as const;

export async function up(db: Kysely<unknown>): Promise<void> {
  // The payload is short (a uuid or a 43-character token hash), far below NOTIFY's 8000-byte limit.
  await sql`
    create function user_changes_notify() returns trigger language plpgsql as $$
    begin
      perform pg_notify('user_changes', tg_argv[0] || ':' || (to_jsonb(old) ->> tg_argv[1]));
      return null;
    end
    $$`.execute(db);
  // A truncate names no row: `*` tells every cache to drop everything.
  await sql`
    create function user_changes_notify_truncate() returns trigger language plpgsql as $$
    begin
      perform pg_notify('user_changes', '*');
      return null;
    end
    $$`.execute(db);
  for (const { table, kind, column } of ANNOUNCED) {
    await sql`
      create trigger ${sql.id(`${table}_notify_user_changes`)} after update or delete on ${sql.table(table)}
      for each row execute function user_changes_notify(${sql.lit(kind)}, ${sql.lit(column)})`.execute(db);
    await sql`
      create trigger ${sql.id(`${table}_notify_user_changes_truncate`)} after truncate on ${sql.table(table)}
      for each statement execute function user_changes_notify_truncate()`.execute(db);
  }
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const { table } of ANNOUNCED) {
    await sql`drop trigger ${sql.id(`${table}_notify_user_changes_truncate`)} on ${sql.table(table)}`.execute(db);
    await sql`drop trigger ${sql.id(`${table}_notify_user_changes`)} on ${sql.table(table)}`.execute(db);
  }
  await sql`drop function user_changes_notify_truncate()`.execute(db);
  await sql`drop function user_changes_notify()`.execute(db);
}
