// The upkeep (src/services/upkeep/): pg-boss's job tables in schema `pgboss`, created here from
// pg-boss's own construction plans (its BEGIN/COMMIT dropped: the migration runs in a transaction of
// its own), so that every schema change goes through migrations; pg-boss is started with
// `migrate: false` and refuses to run on another schema version: upgrading pg-boss needs a migration
// with its migration plans (PgBoss.getMigrationPlans). upkeep_runs: one row per upkeep job run (the
// sweep or one instance's check), for GET /internal/upkeep/runs. instances.next_check_at: when the
// upkeep checks the instance next (shown in health).
import PgBoss from 'pg-boss';
import { sql, type Kysely } from 'kysely';

/** pg-boss's schema name; src/services/upkeep/scheduler.ts uses the same. */
const JOB_SCHEMA = 'pgboss';

function constructionPlans(): string {
  return PgBoss.getConstructionPlans(JOB_SCHEMA).replace(/^\s*BEGIN;/, '').replace(/COMMIT;\s*$/, '');
}

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql.raw(constructionPlans()).execute(db);
  // The queues (each a partition pg-boss creates): made here, not at start-up, so no process changes the schema.
  // upkeep-sweep: one per interval by its singleton slot; upkeep-instance: 'stately', at most one queued and one
  // running check per instance (the singleton key) however many sweeps enqueue it.
  await sql`select pgboss.create_queue('upkeep-sweep', ${JSON.stringify({ policy: 'standard' })}::json)`.execute(db);
  await sql`select pgboss.create_queue('upkeep-instance', ${JSON.stringify({ policy: 'stately' })}::json)`.execute(db);
  await db.schema
    .createTable('upkeep_runs')
    .addColumn('id', 'bigserial', (col) => col.primaryKey())
    .addColumn('job', 'text', (col) => col.notNull())
    .addColumn('instance_id', 'uuid')
    .addColumn('started_at', 'timestamptz', (col) => col.notNull())
    .addColumn('finished_at', 'timestamptz')
    .addColumn('outcome', 'text', (col) => col.notNull().defaultTo('running'))
    .addColumn('counts', 'jsonb', (col) => col.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn('error', 'text')
    .execute();
  await db.schema.createIndex('upkeep_runs_started_at').on('upkeep_runs').column('started_at').execute();
  await db.schema.alterTable('instances').addColumn('next_check_at', 'timestamptz').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('instances').dropColumn('next_check_at').execute();
  await db.schema.dropTable('upkeep_runs').execute();
  await sql.raw(`DROP SCHEMA ${JOB_SCHEMA} CASCADE`).execute(db);
}
