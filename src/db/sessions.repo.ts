// All SQL on sessions: created at login, found by the hash of their token, revoked at logout or removal.
import type { Executor } from './types.js';

export async function insertSession(
  db: Executor,
  session: { tokenHash: string; userId: string; instanceId: string; expiresAt: Date; now: Date },
): Promise<void> {
  await db
    .insertInto('sessions')
    .values({ token_hash: session.tokenHash, user_id: session.userId, instance_id: session.instanceId, expires_at: session.expiresAt, created_at: session.now })
    .execute();
}

/** What findLiveSession answers: the session with its user and instance. */
export type LiveSession = NonNullable<Awaited<ReturnType<typeof findLiveSession>>>;

/** The live session of a token hash (unrevoked, unexpired, instance not removed) with its user and instance. */
export function findLiveSession(db: Executor, tokenHash: string, now: Date) {
  return db
    .selectFrom('sessions')
    .innerJoin('users', 'users.id', 'sessions.user_id')
    .innerJoin('instances', 'instances.id', 'sessions.instance_id')
    .select([
      'sessions.id as sessionId',
      'sessions.expires_at as expiresAt',
      'users.id as userId',
      'users.gitlab_user_id as gitlabUserId',
      'users.username',
      'users.name',
      'users.email',
      'users.avatar_url as avatarUrl',
      'instances.id as instanceId',
      'instances.url as instanceUrl',
      'instances.status as instanceStatus',
      'instances.problem_code as instanceProblemCode',
      'instances.oauth_client_verified_at as instanceOauthClientVerifiedAt',
    ])
    .where('sessions.token_hash', '=', tokenHash)
    .where('sessions.revoked_at', 'is', null)
    .where('sessions.expires_at', '>', now)
    .where('instances.status', '!=', 'removed')
    .executeTakeFirst();
}

export async function revokeSessionByHash(db: Executor, tokenHash: string, now: Date): Promise<boolean> {
  const result = await db
    .updateTable('sessions')
    .set({ revoked_at: now })
    .where('token_hash', '=', tokenHash)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

export async function revokeInstanceSessions(db: Executor, instanceId: string, now: Date): Promise<void> {
  await db.updateTable('sessions').set({ revoked_at: now }).where('instance_id', '=', instanceId).where('revoked_at', 'is', null).execute();
}
