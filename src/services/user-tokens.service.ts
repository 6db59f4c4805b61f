// A user's GitLab access token for internal services, refreshed through GitLab when (nearly) expired.
// GitLab refresh tokens are single-use, so the refresh runs under a row lock on the user: of many
// concurrent callers, in one process or many sharing the database, exactly one refreshes and the
// others, waiting off the pool (db/row-lock.ts), then read its result.
import type { FastifyInstance } from 'fastify';
import type { Transaction } from 'kysely';
import { SEAL_USER_ACCESS_TOKEN, SEAL_USER_REFRESH_TOKEN } from '../crypto/seal-purposes.js';
import { findInstanceById } from '../db/instances.repo.js';
import { retryWhileRowLocked } from '../db/row-lock.js';
import type { DB, User } from '../db/types.js';
import { findUserById, lockUserById, markReauthorizationRequired, storeUserTokens } from '../db/users.repo.js';
import { AppError } from '../errors.js';
import { RefreshRefusedError, refreshTokens } from './gitlab-oauth.js';

/** A token with less than this left is refreshed first (GitLab's tokens live 2 hours)... */
const REFRESH_MARGIN_MS = 5 * 60 * 1000;

export interface UserGitlabToken {
  accessToken: string;
  expiresAt: Date | null;
}

/**
 * ...or, for a token that lives less than twice the margin, with less than half its lifetime left:
 * a token refreshed a moment ago is never refreshed again at once, however short-lived.
 */
function isStale(user: User, now: Date): boolean {
  if (user.access_token_expires_at === null) return false;
  const expiresAt = user.access_token_expires_at.getTime();
  const lifetime = user.access_token_obtained_at ? expiresAt - user.access_token_obtained_at.getTime() : Infinity;
  return expiresAt - now.getTime() < Math.min(REFRESH_MARGIN_MS, lifetime / 2);
}

function usable(user: User | undefined, id: string): User & { access_token_sealed: string } {
  if (!user) throw new AppError('user_not_found', `No user ${id}`);
  if (user.reauthorization_required || !user.access_token_sealed) {
    throw new AppError('reauthorization_required', 'The user has no usable GitLab token (GitLab refused the refresh, or the instance was removed): the user must log in again');
  }
  return user as User & { access_token_sealed: string };
}

type LockedOutcome = { token: UserGitlabToken } | { refused: string };

/** Under the row lock: refresh only if nobody else did since our plain read, and the token is still stale. */
async function refreshUnderLock(app: FastifyInstance, trx: Transaction<DB>, id: string, seenAccessTokenSealed: string): Promise<LockedOutcome> {
  const user = usable(await lockUserById(trx, id), id);
  const now = app.clock();
  // A changed token means another caller refreshed between our read and our lock: GitLab's newest answer is the one to use.
  if (user.access_token_sealed !== seenAccessTokenSealed || !isStale(user, now)) {
    return { token: { accessToken: app.sealer.open(user.access_token_sealed, SEAL_USER_ACCESS_TOKEN), expiresAt: user.access_token_expires_at } };
  }
  if (!user.refresh_token_sealed) return { refused: 'no refresh token is stored' };
  const instance = await findInstanceById(trx, user.instance_id);
  if (!instance || instance.status === 'removed') throw new AppError('instance_not_ready', 'The user\'s instance has been removed');
  let tokens;
  try {
    tokens = await refreshTokens(app, instance, app.sealer.open(user.refresh_token_sealed, SEAL_USER_REFRESH_TOKEN));
  } catch (error) {
    if (error instanceof RefreshRefusedError) {
      await markReauthorizationRequired(trx, id, now);
      return { refused: error.message };
    }
    throw error;
  }
  await storeUserTokens(trx, id, {
    accessTokenSealed: app.sealer.seal(tokens.accessToken, SEAL_USER_ACCESS_TOKEN),
    // GitLab always rotates the refresh token; should one ever be missing, the old one is kept.
    refreshTokenSealed: tokens.refreshToken === null ? user.refresh_token_sealed : app.sealer.seal(tokens.refreshToken, SEAL_USER_REFRESH_TOKEN),
    accessTokenExpiresAt: tokens.expiresAt,
    accessTokenObtainedAt: tokens.obtainedAt,
    now,
  });
  return { token: { accessToken: tokens.accessToken, expiresAt: tokens.expiresAt } };
}

export async function userGitlabToken(app: FastifyInstance, id: string): Promise<UserGitlabToken> {
  const outcome = await retryWhileRowLocked(async (): Promise<LockedOutcome> => {
    const seen = usable(await findUserById(app.db, id), id);
    if (!isStale(seen, app.clock())) {
      return { token: { accessToken: app.sealer.open(seen.access_token_sealed, SEAL_USER_ACCESS_TOKEN), expiresAt: seen.access_token_expires_at } };
    }
    // Only `trx` inside: on PGlite (one connection) a query on app.db here would wait forever.
    return app.db.transaction().execute((trx) => refreshUnderLock(app, trx, id, seen.access_token_sealed));
  }, { gitlabTimeoutMs: app.config.gitlabTimeoutMs });
  if ('refused' in outcome) {
    app.log.info({ userId: id }, 'GitLab refused the refresh token; the user must log in again');
    throw new AppError('reauthorization_required', `GitLab refused to refresh the token (${outcome.refused}): the user must log in again`);
  }
  return outcome.token;
}
