// The one read the public lookup needs: four columns of an instance by its normalised URL, or of the
// instance an alias URL points to.
import { CompiledQuery } from 'kysely';
import type { Executor, InstanceStatus } from './types.js';

export interface InstanceLookupRow {
  id: string;
  status: InstanceStatus;
  bootstrapLeaseUntil: Date | null;
  /** From then on a manual instance is degraded (bot_token_expiring). */
  botTokenWarnAt: Date | null;
}

type LookupColumns = { id: string; status: InstanceStatus; bootstrap_lease_until: Date | null; bot_token_warn_at: Date | null };

// Built once: the lookup is the hottest query, and its SQL never changes (only the URL parameter).
let lookupSql: string | undefined;

/** The one statement: the instance at the URL, else the instance the URL is an alias of (both indexed). */
function compileLookup(db: Executor): string {
  const own = db.selectFrom('instances').select(['id', 'status', 'bootstrap_lease_until', 'bot_token_warn_at']).where('url', '=', '');
  const aliased = db
    .selectFrom('instance_aliases')
    .innerJoin('instances', 'instances.id', 'instance_aliases.instance_id')
    .select(['instances.id', 'instances.status', 'instances.bootstrap_lease_until', 'instances.bot_token_warn_at'])
    .where('instance_aliases.url', '=', '');
  // Parameters: $1 and $2 the same URL, $3 the limit 1.
  return own.unionAll(aliased).limit(1).compile().sql;
}

/** The instance registered at `url` (normalised) or aliased by it, or undefined; no secret column is read. */
export async function findInstanceLookupRow(db: Executor, url: string): Promise<InstanceLookupRow | undefined> {
  lookupSql ??= compileLookup(db);
  const { rows } = await db.executeQuery<LookupColumns>(CompiledQuery.raw(lookupSql, [url, url, 1]));
  const row = rows[0];
  return row && { id: row.id, status: row.status, bootstrapLeaseUntil: row.bootstrap_lease_until, botTokenWarnAt: row.bot_token_warn_at };
}
