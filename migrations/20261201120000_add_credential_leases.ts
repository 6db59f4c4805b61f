// Single-flight for a credential refresh (a user's OAuth tokens, the bot token) by a lease on the row,
// claimed and released in short transactions and renewed by its holder's heartbeat, instead of a row
// lock held across the GitLab call. The bootstrap's lease gets a holder too, so it can be renewed.
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  for (const table of ['users', 'instances']) {
    await db.schema.alterTable(table).addColumn('credential_lease_holder', 'text').addColumn('credential_lease_until', 'timestamptz').execute();
  }
  await db.schema.alterTable('instances').addColumn('bootstrap_lease_holder', 'text').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('instances').dropColumn('bootstrap_lease_holder').execute();
  for (const table of ['users', 'instances']) {
    await db.schema.alterTable(table).dropColumn('credential_lease_holder').dropColumn('credential_lease_until').execute();
  }
}
