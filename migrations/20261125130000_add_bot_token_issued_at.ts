// When the current bot token was issued: with its expiry, the lifetime GitLab granted, which decides
// how early it is rotated (an instance may cap tokens at fewer days than the rotation window).
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('instances').addColumn('bot_token_issued_at', 'timestamptz').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('instances').dropColumn('bot_token_issued_at').execute();
}
