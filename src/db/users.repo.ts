// All SQL on users: the upsert at login, reads, and the locked read-modify-write of their GitLab tokens.
import type { Transaction } from 'kysely';
import type { User } from '../domain/types.js';
import { fromRow, fromRowOrUndefined } from './rows.js';
import type { DB, Executor } from './types.js';

export interface UserLogin {
  instanceId: string;
  gitlabUserId: number;
  username: string;
  name: string;
  email: string | null;
  avatarUrl: string | null;
  accessTokenSealed: string;
  refreshTokenSealed: string | null;
  accessTokenExpiresAt: Date | null;
  accessTokenObtainedAt: Date;
  now: Date;
}

/** Inserts or updates the user of (instance, GitLab user id) with fresh tokens; a login clears reauthorization_required. */
export async function upsertUserAtLogin(db: Executor, login: UserLogin): Promise<User> {
  const profile = {
    username: login.username,
    name: login.name,
    email: login.email,
    avatar_url: login.avatarUrl,
    access_token_sealed: login.accessTokenSealed,
    refresh_token_sealed: login.refreshTokenSealed,
    access_token_expires_at: login.accessTokenExpiresAt,
    access_token_obtained_at: login.accessTokenObtainedAt,
    reauthorization_required: false,
    updated_at: login.now,
  };
  const row = await db
    .insertInto('users')
    .values({ instance_id: login.instanceId, gitlab_user_id: login.gitlabUserId, created_at: login.now, ...profile })
    .onConflict((oc) => oc.columns(['instance_id', 'gitlab_user_id']).doUpdateSet(profile))
    .returningAll()
    .executeTakeFirstOrThrow();
  return fromRow(row);
}

export async function findUserById(db: Executor, id: string): Promise<User | undefined> {
  return fromRowOrUndefined(await db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst());
}

/**
 * Reads the user under a row lock (inside a transaction), or fails at once with lock_not_available
 * (55P03) when another refresher holds it: callers wait through retryWhileRowLocked, not on a connection.
 */
export async function lockUserById(trx: Transaction<DB>, id: string): Promise<User | undefined> {
  return fromRowOrUndefined(await trx.selectFrom('users').selectAll().where('id', '=', id).forUpdate().noWait().executeTakeFirst());
}

export async function storeUserTokens(
  db: Executor,
  id: string,
  tokens: { accessTokenSealed: string; refreshTokenSealed: string | null; accessTokenExpiresAt: Date | null; accessTokenObtainedAt: Date; now: Date },
): Promise<void> {
  await db
    .updateTable('users')
    .set({
      access_token_sealed: tokens.accessTokenSealed,
      refresh_token_sealed: tokens.refreshTokenSealed,
      access_token_expires_at: tokens.accessTokenExpiresAt,
      access_token_obtained_at: tokens.accessTokenObtainedAt,
      updated_at: tokens.now,
    })
    .where('id', '=', id)
    .execute();
}

export async function markReauthorizationRequired(db: Executor, id: string, now: Date): Promise<void> {
  await db.updateTable('users').set({ reauthorization_required: true, updated_at: now }).where('id', '=', id).execute();
}

/** Wipes the GitLab tokens of every user of an instance (the instance is removed). */
export async function wipeInstanceUserTokens(db: Executor, instanceId: string, now: Date): Promise<void> {
  await db.updateTable('users').set({ access_token_sealed: null, refresh_token_sealed: null, access_token_expires_at: null, updated_at: now }).where('instance_id', '=', instanceId).execute();
}
