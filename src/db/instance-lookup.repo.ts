// The one read the public lookup needs: three columns of an instance by its normalised URL.
import type { Executor, InstanceStatus } from './types.js';

export interface InstanceLookupRow {
  id: string;
  status: InstanceStatus;
  bootstrapLeaseUntil: Date | null;
}

/** The instance registered at `url` (normalised), or undefined; no secret column is read. */
export async function findInstanceLookupRow(db: Executor, url: string): Promise<InstanceLookupRow | undefined> {
  const row = await db.selectFrom('instances').select(['id', 'status', 'bootstrap_lease_until']).where('url', '=', url).executeTakeFirst();
  return row && { id: row.id, status: row.status, bootstrapLeaseUntil: row.bootstrap_lease_until };
}
