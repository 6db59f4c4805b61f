// All SQL on users: the upsert at login, reads, and the lease-fenced writes of their refreshed GitLab tokens.
import type { User } from '../domain/types.js';
import { fromRow, fromRowOrUndefined } from './rows.js';
import type { Executor } from './types.js';

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
 * Stores refreshed tokens and releases the refresh lease in one statement, only while `holder` holds
 * it; false when the lease was lost (nothing written).
 */
export async function storeUserTokens(
  db: Executor,
  id: string,
  holder: string,
  tokens: { accessTokenSealed: string; refreshTokenSealed: string | null; accessTokenExpiresAt: Date | null; accessTokenObtainedAt: Date; now: Date },
): Promise<boolean> {
  const stored = await db
    .updateTable('users')
    .set({
      access_token_sealed: tokens.accessTokenSealed,
      refresh_token_sealed: tokens.refreshTokenSealed,
      access_token_expires_at: tokens.accessTokenExpiresAt,
      access_token_obtained_at: tokens.accessTokenObtainedAt,
      credential_lease_holder: null,
      credential_lease_until: null,
      updated_at: tokens.now,
    })
    .where('id', '=', id)
    .where('credential_lease_holder', '=', holder)
    .executeTakeFirst();
  return stored.numUpdatedRows > 0n;
}

/** GitLab refused the refresh token: the user must log in again. Fenced on the refresh lease; false when it was lost. */
export async function markReauthorizationRequired(db: Executor, id: string, holder: string, now: Date): Promise<boolean> {
  const marked = await db.updateTable('users').set({ reauthorization_required: true, updated_at: now }).where('id', '=', id).where('credential_lease_holder', '=', holder).executeTakeFirst();
  return marked.numUpdatedRows > 0n;
}

/** Wipes the GitLab tokens of every user of an instance (the instance is removed); a refresh in flight loses its lease and stores nothing. */
export async function wipeInstanceUserTokens(db: Executor, instanceId: string, now: Date): Promise<void> {
  await db.updateTable('users').set({ access_token_sealed: null, refresh_token_sealed: null, access_token_expires_at: null, credential_lease_holder: null, credential_lease_until: null, updated_at: now }).where('instance_id', '=', instanceId).execute();
}

/** What a user-token call checks of the user's instance before handing a token out (the lookup's columns, one join). */
export interface UserInstanceState {
  instanceStatus: string;
  instanceProblemCode: string | null;
  instanceOauthClientVerifiedAt: Date | null;
}

/** A user with the state of their instance, in one query; undefined when there is no such user. */
export async function findUserWithInstanceState(db: Executor, id: string): Promise<(User & UserInstanceState) | undefined> {
  const row = await db
    .selectFrom('users')
    .innerJoin('instances', 'instances.id', 'users.instance_id')
    .selectAll('users')
    .select(['instances.status as instance_status', 'instances.problem_code as instance_problem_code', 'instances.oauth_client_verified_at as instance_oauth_client_verified_at'])
    .where('users.id', '=', id)
    .executeTakeFirst();
  return fromRowOrUndefined(row);
}

/**
 * The instance's OAuth application was replaced (the bootstrap re-created it): GitLab deleted the old
 * one with every token it issued, so each user of the instance must log in again.
 */
export async function markInstanceUsersReauthorizationRequired(db: Executor, instanceId: string, now: Date): Promise<void> {
  await db.updateTable('users').set({ reauthorization_required: true, updated_at: now }).where('instance_id', '=', instanceId).where('reauthorization_required', '=', false).execute();
}
