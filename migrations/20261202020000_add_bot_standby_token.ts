// A second bot token, the standby: rotation only ever rotates the token that is not being served, so a
// rotation whose answer is lost leaves the served token working. Nullable: an instance bootstrapped
// with one token keeps working with it until a new bootstrap restores the pair. Sealed like the first.
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable('instances')
    .addColumn('bot_standby_token_id', 'bigint')
    .addColumn('bot_standby_token_sealed', 'text')
    .addColumn('bot_standby_token_expires_at', 'timestamptz')
    .addColumn('bot_standby_token_issued_at', 'timestamptz')
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable('instances')
    .dropColumn('bot_standby_token_id')
    .dropColumn('bot_standby_token_sealed')
    .dropColumn('bot_standby_token_expires_at')
    .dropColumn('bot_standby_token_issued_at')
    .execute();
}
