// All SQL on login_states: written at the start of a login, consumed once by its callback.
import type { LoginState, NewLoginState } from '../domain/types.js';
import { fromRowOrUndefined, toRow } from './rows.js';
import type { Executor, LoginStatesTable } from './types.js';
import type { Insertable } from 'kysely';

export async function insertLoginState(db: Executor, state: NewLoginState): Promise<void> {
  await db.insertInto('login_states').values(toRow<Insertable<LoginStatesTable>>(state)).execute();
}

/** Marks the state used and returns it, in one statement: of two concurrent callbacks only one gets the row. */
export async function consumeLoginState(db: Executor, stateHash: string, now: Date): Promise<LoginState | undefined> {
  const consumed = await db
    .updateTable('login_states')
    .set({ consumed_at: now })
    .where('state_hash', '=', stateHash)
    .where('consumed_at', 'is', null)
    .where('expires_at', '>', now)
    .returningAll()
    .executeTakeFirst();
  return fromRowOrUndefined(consumed);
}

/** Expired states are useless and hold a sealed PKCE verifier: drop them. Returns how many were deleted. */
export async function deleteExpiredLoginStates(db: Executor, now: Date): Promise<number> {
  const result = await db.deleteFrom('login_states').where('expires_at', '<=', now).executeTakeFirst();
  return Number(result.numDeletedRows);
}

/** A removed instance's pending logins can never complete. */
export async function deleteInstanceLoginStates(db: Executor, instanceId: string): Promise<void> {
  await db.deleteFrom('login_states').where('instance_id', '=', instanceId).execute();
}
