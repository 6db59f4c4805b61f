// Manual onboarding: an instance is `automated` (set up with an admin token; the service owns its bot
// and OAuth application) or `manual` (the admin created them and gave the service their credentials).
// bot_token_warn_at: when a manual bot token that cannot rotate itself (GitLab before 16.10) turns the
// instance degraded (bot_token_expiring), 14 days before it expires; null when that cannot happen.
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable('instances')
    .addColumn('mode', 'text', (column) => column.notNull().defaultTo('automated').check(sql`mode in ('automated', 'manual')`))
    .addColumn('bot_token_warn_at', 'timestamptz')
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('instances').dropColumn('bot_token_warn_at').dropColumn('mode').execute();
}
