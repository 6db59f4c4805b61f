// The step a running bootstrap is at, for lookup's progress display: written as the bootstrap enters
// each step (a fenced update, so the instances trigger drops the lookup caches), cleared when it ends.
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('instances').addColumn('bootstrap_step', 'text').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('instances').dropColumn('bootstrap_step').execute();
}
