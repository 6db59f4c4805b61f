// The one read the public lookup needs: four columns of an instance by its normalised URL.
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

/** The instance registered at `url` (normalised), or undefined; no secret column is read. */
export async function findInstanceLookupRow(db: Executor, url: string): Promise<InstanceLookupRow | undefined> {
  lookupSql ??= db.selectFrom('instances').select(['id', 'status', 'bootstrap_lease_until', 'bot_token_warn_at']).where('url', '=', '').compile().sql;
  const { rows } = await db.executeQuery<LookupColumns>(CompiledQuery.raw(lookupSql, [url]));
  const row = rows[0];
  return row && { id: row.id, status: row.status, bootstrapLeaseUntil: row.bootstrap_lease_until, botTokenWarnAt: row.bot_token_warn_at };
}
