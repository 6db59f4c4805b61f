// A credential found dead after set-up (by POST /internal/instances/:id/check, or when GitLab refused a
// credential an internal route was about to hand out) makes a ready instance degraded until it works
// again: problem_code/step/detail say what is wrong (never a secret), checked_at when the last live
// check ran. Null problem_code: nothing found dead.
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable('instances')
    .addColumn('problem_code', 'text')
    .addColumn('problem_step', 'text')
    .addColumn('problem_detail', 'text')
    .addColumn('checked_at', 'timestamptz')
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('instances').dropColumn('checked_at').dropColumn('problem_detail').dropColumn('problem_step').dropColumn('problem_code').execute();
}
