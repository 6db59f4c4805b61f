// bot_token_lifetime_days: the instance's maximum personal access token lifetime (EE
// max_personal_access_token_lifetime, read at the bootstrap; null: GitLab's own 365 days), so that
// creation and rotation ask for the longest expiry allowed. bot_token_verified_at and
// oauth_client_verified_at: when the bot token and the OAuth client were last verified live on GitLab
// by an internal route (at most once per interval per instance, across processes: claimed by a
// conditional update), so that a credential revoked or deleted behind the service's back is not handed
// out for long, without a GitLab call on every request.
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable('instances')
    .addColumn('bot_token_lifetime_days', 'integer')
    .addColumn('bot_token_verified_at', 'timestamptz')
    .addColumn('oauth_client_verified_at', 'timestamptz')
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('instances').dropColumn('oauth_client_verified_at').dropColumn('bot_token_verified_at').dropColumn('bot_token_lifetime_days').execute();
}
