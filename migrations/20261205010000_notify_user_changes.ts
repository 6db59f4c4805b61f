// Every change of a user, a session or an instance that a cached read could show (by this service or
// anyone) is announced on the channel `user_changes`, so each process's session and user-token caches drop
// what it touched at once (src/cache/user-cache.ts). An insert is not announced: those caches keep no
// "not found" answers. Writes that change nothing those reads select stay quiet: a session already
// revoked, and an instance's other columns (upkeep times, bot-token state, leases).
import { sql, type Kysely } from 'kysely';

/** Each announced row: its table, payload kind and key column, and when an update or a delete of it is announced. */
const ANNOUNCED = [
  { table: 'users', kind: 'user', column: 'id', updates: sql`true`, deletes: sql`true` },
  { table: 'sessions', kind: 'session', column: 'token_hash', updates: sql`old.revoked_at is null`, deletes: sql`old.revoked_at is null` },
  {
    table: 'instances',
    kind: 'instance',
    column: 'id',
    deletes: sql`true`,
    // The instance columns the cached reads select (src/db/sessions.repo.ts, users.repo.ts).
    updates: sql`old.url is distinct from new.url or old.status is distinct from new.status
      or old.problem_code is distinct from new.problem_code or old.oauth_client_verified_at is distinct from new.oauth_client_verified_at`,
  },
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
  for (const { table, kind, column, updates, deletes } of ANNOUNCED) {
    const args = sql`${sql.lit(kind)}, ${sql.lit(column)}`;
    await sql`
      create trigger ${sql.id(`${table}_notify_user_changes_update`)} after update on ${sql.table(table)}
      for each row when (${updates}) execute function user_changes_notify(${args})`.execute(db);
    await sql`
      create trigger ${sql.id(`${table}_notify_user_changes_delete`)} after delete on ${sql.table(table)}
      for each row when (${deletes}) execute function user_changes_notify(${args})`.execute(db);
    await sql`
      create trigger ${sql.id(`${table}_notify_user_changes_truncate`)} after truncate on ${sql.table(table)}
      for each statement execute function user_changes_notify_truncate()`.execute(db);
  }
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const { table } of ANNOUNCED) {
    for (const event of ['truncate', 'delete', 'update']) await sql`drop trigger ${sql.id(`${table}_notify_user_changes_${event}`)} on ${sql.table(table)}`.execute(db);
  }
  await sql`drop function user_changes_notify_truncate()`.execute(db);
  await sql`drop function user_changes_notify()`.execute(db);
}
