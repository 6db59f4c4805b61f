// All SQL of the credential leases: a row (a user, an instance) claimed by one refresher at a time,
// each statement its own short transaction. No lock outlives a statement; a dead holder's lease lapses.
import type { Executor } from './types.js';

/** The rows a credential lease can be held on: both carry credential_lease_holder/_until. */
export type LeasedTable = 'users' | 'instances';

/** A lease held by `holder` (random per claim) until `until`, by the claimer's clock `now`. */
export interface LeaseClaim {
  holder: string;
  now: Date;
  until: Date;
}

/** Both tables have the same lease columns; typing the update on one covers the other. */
const asUsers = (table: LeasedTable) => table as 'users';

/** Claims the row's lease when nobody holds it, or its holder's lease has lapsed; false when taken. */
export async function claimCredentialLease(db: Executor, table: LeasedTable, id: string, claim: LeaseClaim): Promise<boolean> {
  const claimed = await db
    .updateTable(asUsers(table))
    .set({ credential_lease_holder: claim.holder, credential_lease_until: claim.until })
    .where('id', '=', id)
    .where((eb) => eb.or([eb('credential_lease_until', 'is', null), eb('credential_lease_until', '<=', claim.now)]))
    .executeTakeFirst();
  return claimed.numUpdatedRows > 0n;
}

/** Extends the lease while `holder` still has it (the heartbeat); false when it was lost. */
export async function renewCredentialLease(db: Executor, table: LeasedTable, id: string, holder: string, until: Date): Promise<boolean> {
  const renewed = await db.updateTable(asUsers(table)).set({ credential_lease_until: until }).where('id', '=', id).where('credential_lease_holder', '=', holder).executeTakeFirst();
  return renewed.numUpdatedRows > 0n;
}

/** Gives the lease up, if `holder` still has it. */
export async function releaseCredentialLease(db: Executor, table: LeasedTable, id: string, holder: string): Promise<void> {
  await db.updateTable(asUsers(table)).set({ credential_lease_holder: null, credential_lease_until: null }).where('id', '=', id).where('credential_lease_holder', '=', holder).execute();
}
