// The read the public lookup needs: a few columns of an instance by its normalised URL, or of the
// instance an alias URL points to (both by a unique index).
import { CompiledQuery } from 'kysely';
import { namedStatement } from './named-statements.js';
import type { Executor, InstanceStatus } from './types.js';

export interface InstanceLookupRow {
  id: string;
  status: InstanceStatus;
  bootstrapLeaseUntil: Date | null;
  /** The step a running bootstrap is at. */
  bootstrapStep: string | null;
  /** The last failure's code and step (failed instances). */
  lastErrorCode: string | null;
  lastErrorStep: string | null;
  /** From then on a manual instance is degraded (bot_token_expiring). */
  botTokenWarnAt: Date | null;
  /** A credential found dead (instance-health.ts). */
  problemCode: string | null;
  problemStep: string | null;
  problemDetail: string | null;
}

type LookupColumns = {
  id: string;
  status: InstanceStatus;
  bootstrap_lease_until: Date | null;
  bootstrap_step: string | null;
  last_error_code: string | null;
  last_error_step: string | null;
  bot_token_warn_at: Date | null;
  problem_code: string | null;
  problem_step: string | null;
  problem_detail: string | null;
};
const COLUMNS = ['id', 'status', 'bootstrap_lease_until', 'bootstrap_step', 'last_error_code', 'last_error_step', 'bot_token_warn_at', 'problem_code', 'problem_step', 'problem_detail'] as const;

// Built once: the lookup is the hottest query, and its SQL never changes (only the URL parameter).
let lookupSql: { own: string; aliased: string } | undefined;

/**
 * Two statements, the second only when the first finds nothing: the instance at the URL, then the
 * instance the URL is an alias of. One `union all` of both made PostgreSQL parse and plan a join on
 * every lookup, and halved the lookups per second it could answer on a shared 2-core machine (bench);
 * the usual lookup (an instance's own URL) now costs one single-table read by a unique index. An alias
 * or an unknown URL costs two (the lookup cache keeps unknown URLs too). Both are named prepared
 * statements on PostgreSQL, parsed and planned once per connection (named-statements.ts).
 */
function compileLookup(db: Executor): { own: string; aliased: string } {
  const own = db.selectFrom('instances').select(COLUMNS).where('url', '=', '');
  const aliased = db
    .selectFrom('instance_aliases')
    .innerJoin('instances', 'instances.id', 'instance_aliases.instance_id')
    .select(COLUMNS.map((column) => `instances.${column}` as const))
    .where('instance_aliases.url', '=', '');
  return { own: namedStatement(own.compile().sql), aliased: namedStatement(aliased.compile().sql) };
}

/** The instance registered at `url` (normalised) or aliased by it, or undefined; no secret column is read. */
export async function findInstanceLookupRow(db: Executor, url: string): Promise<InstanceLookupRow | undefined> {
  lookupSql ??= compileLookup(db);
  let { rows } = await db.executeQuery<LookupColumns>(CompiledQuery.raw(lookupSql.own, [url]));
  if (rows.length === 0) ({ rows } = await db.executeQuery<LookupColumns>(CompiledQuery.raw(lookupSql.aliased, [url])));
  const row = rows.at(0);
  return (
    row && {
      id: row.id,
      status: row.status,
      bootstrapLeaseUntil: row.bootstrap_lease_until,
      bootstrapStep: row.bootstrap_step,
      lastErrorCode: row.last_error_code,
      lastErrorStep: row.last_error_step,
      botTokenWarnAt: row.bot_token_warn_at,
      problemCode: row.problem_code,
      problemStep: row.problem_step,
      problemDetail: row.problem_detail,
    }
  );
}
