// A user's GitLab access token for internal services, refreshed through GitLab when (nearly) expired.
// GitLab refresh tokens are single-use, so the refresh is single-flight across processes
// (credential-refresh.ts): of many concurrent callers exactly one refreshes, the others read its result.
// A lost answer costs nothing: GitLab revokes the old refresh token only when the new access token is
// first used (gitlab-facts, `revoke_previous_refresh_token!`), and this service uses (hands out) an
// access token only once it is stored, so until then the old refresh token is kept and a retry (after
// a timeout, a crash, a database failure) refreshes with it again and gets a fresh pair.
import { SEAL_USER_ACCESS_TOKEN, SEAL_USER_REFRESH_TOKEN } from '../crypto/seal-purposes.js';
import { findInstanceById } from '../db/instances.repo.js';
import { findUserById, markReauthorizationRequired, storeUserTokens } from '../db/users.repo.js';
import type { User } from '../domain/types.js';
import { AppError } from '../errors.js';
import { isDue, LeaseLost, refreshOnce, type HeldLease } from './credential-refresh.js';
import type { RequestLog, ServiceDeps } from './deps.js';
import { ClientRefusedError, RefreshRefusedError, refreshTokens } from './gitlab-oauth.js';
import { loginsBroken } from './instance-health.js';
import { degradeForRefusedClient } from './instance-check.service.js';
import { oauthClientStillAccepted } from './credential-verification.js';
import { verifiedRecently } from './verification-claim.js';

/** A token with less than this left is refreshed first (GitLab's tokens live 2 hours), or at half a shorter lifetime. */
const REFRESH_MARGIN_MS = 5 * 60 * 1000;

export interface UserGitlabToken {
  accessToken: string;
  expiresAt: Date | null;
}

type UsableUser = User & { accessTokenSealed: string };

function usable(user: User | undefined, id: string): UsableUser {
  if (!user) throw new AppError('user_not_found', `No user ${id}`);
  if (user.reauthorizationRequired || !user.accessTokenSealed) {
    throw new AppError('reauthorization_required', 'The user has no usable GitLab token (GitLab refused the refresh, the instance was removed, or its OAuth application was replaced): the user must log in again');
  }
  return user as UsableUser;
}

type Outcome = { token: UserGitlabToken } | { refused: string };

/** The access token expires within REFRESH_MARGIN_MS (or half its lifetime): it is refreshed first. */
const isTokenDue = (user: User, now: Date) => isDue({ expiresAt: user.accessTokenExpiresAt, issuedAt: user.accessTokenObtainedAt }, now, REFRESH_MARGIN_MS);

/** The instance's OAuth application is deleted or replaced on GitLab: no token of it can be refreshed. */
function applicationGone(): AppError {
  return new AppError(
    'reauthorization_required',
    "GitLab no longer accepts this instance's OAuth application (deleted or its secret replaced): once an admin has repaired the instance (POST /instances/bootstrap), the user must log in again",
  );
}

/**
 * Holding the lease: ask GitLab for new tokens (no connection held), then store them fenced on the
 * lease. Nothing is served that was not stored: a failed write throws and the next call refreshes again.
 */
async function refreshLeased(deps: ServiceDeps, user: UsableUser, now: Date, lease: HeldLease, actor: string): Promise<Outcome> {
  const { sealer, db } = deps;
  if (!user.refreshTokenSealed) return { refused: 'no refresh token is stored' };
  const instance = await findInstanceById(db, user.instanceId);
  if (!instance || instance.status === 'removed') throw new AppError('instance_not_ready', "The user's instance has been removed");
  if (loginsBroken(instance)) throw applicationGone();
  let tokens;
  try {
    tokens = await refreshTokens(deps, instance, sealer.open(user.refreshTokenSealed, SEAL_USER_REFRESH_TOKEN));
  } catch (error) {
    if (error instanceof ClientRefusedError) {
      await degradeForRefusedClient(deps, instance.id, actor, error.message);
      throw applicationGone();
    }
    if (!(error instanceof RefreshRefusedError)) throw error;
    if (!(await markReauthorizationRequired(db, user.id, lease.holder, now))) throw new LeaseLost();
    return { refused: error.message };
  }
  const stored = await storeUserTokens(db, user.id, lease.holder, {
    accessTokenSealed: sealer.seal(tokens.accessToken, SEAL_USER_ACCESS_TOKEN),
    // GitLab always rotates the refresh token; should one ever be missing, the old one is kept.
    refreshTokenSealed: tokens.refreshToken === null ? user.refreshTokenSealed : sealer.seal(tokens.refreshToken, SEAL_USER_REFRESH_TOKEN),
    accessTokenExpiresAt: tokens.expiresAt,
    accessTokenObtainedAt: tokens.obtainedAt,
    now,
  });
  if (!stored) throw new LeaseLost();
  return { token: { accessToken: tokens.accessToken, expiresAt: tokens.expiresAt } };
}

/** GitLab unreachable, rate limiting or failing: a refresh that could not happen, not one refused. */
const GITLAB_TROUBLE = new Set(['gitlab_unreachable', 'gitlab_timeout', 'gitlab_rate_limited', 'gitlab_error', 'gitlab_blocked']);

/** While GitLab is in trouble, the stored access token is served as long as it has not expired (contract); else the error stands. */
async function stillValidToken(deps: ServiceDeps, id: string, error: unknown): Promise<Outcome> {
  if (!(error instanceof AppError) || !GITLAB_TROUBLE.has(error.code)) throw error;
  const user = usable(await findUserById(deps.db, id), id);
  if (!user.accessTokenExpiresAt || user.accessTokenExpiresAt <= deps.clock()) throw error;
  return { token: { accessToken: deps.sealer.open(user.accessTokenSealed, SEAL_USER_ACCESS_TOKEN), expiresAt: user.accessTokenExpiresAt } };
}

/**
 * A still-valid access token is no proof that its application lives: GitLab deletes an application's
 * tokens with it (the API then answers 401 invalid_token). Before handing one out: refused when the
 * instance is known degraded by its application, or when the bounded client verification (at most one
 * GitLab call per instance per VERIFY_INTERVAL_MS, credential-verification.ts) finds it refused.
 * An application the bootstrap replaced marked every user of the instance (reauthorization_required).
 * Answers the user as read (one query, joined with its instance's state) when no GitLab call followed
 * the read, else undefined (the caller reads again).
 */
async function refuseGoneApplication(deps: ServiceDeps, id: string, actor: string, log: RequestLog): Promise<UsableUser | undefined> {
  const found = await deps.userCache.userWithInstanceState(id);
  const user = usable(found, id);
  const state = { status: found?.instanceStatus, problemCode: found?.instanceProblemCode ?? null };
  if (state.status !== 'ready') return user;
  if (loginsBroken({ status: 'ready', problemCode: state.problemCode })) throw applicationGone();
  // A token due for a refresh is verified by the refresh itself (invalid_client: the application is gone).
  const now = deps.clock();
  if (isTokenDue(user, now) || verifiedRecently(found?.instanceOauthClientVerifiedAt ?? null, now)) return user;
  const instance = await findInstanceById(deps.db, user.instanceId);
  if (instance && !(await oauthClientStillAccepted(deps, instance, actor, log))) throw applicationGone();
  return undefined;
}

/**
 * The user's current GitLab access token, refreshed first when due; while GitLab is unreachable, rate
 * limiting or failing, the stored token as long as it is still valid. Throws user_not_found,
 * reauthorization_required (no token, GitLab refused the refresh, or the instance's OAuth application was
 * deleted or replaced: then the instance is degraded, an event by `actor`), instance_not_ready, or the
 * GitLab failure codes.
 */
export async function userGitlabToken(deps: ServiceDeps, id: string, actor: string, log: RequestLog): Promise<UserGitlabToken> {
  const checked = await refuseGoneApplication(deps, id, actor, log);
  const outcome = await refreshOnce<UsableUser, Outcome>(deps, {
    leased: { table: 'users', id },
    read: async () => usable(await findUserById(deps.db, id), id),
    firstRead: checked,
    sealedOf: (user) => user.accessTokenSealed,
    isDue: isTokenDue,
    serve: (user) => ({ token: { accessToken: deps.sealer.open(user.accessTokenSealed, SEAL_USER_ACCESS_TOKEN), expiresAt: user.accessTokenExpiresAt } }),
    refresh: (user, now, lease) => refreshLeased(deps, user, now, lease, actor),
    holderGitlabCalls: 1,
    callTimeoutMs: deps.config.gitlabTimeoutMs,
  }).catch((error: unknown) => stillValidToken(deps, id, error));
  if ('refused' in outcome) {
    log.info({ userId: id }, 'GitLab refused the refresh token; the user must log in again');
    throw new AppError('reauthorization_required', `GitLab refused to refresh the token (${outcome.refused}): the user must log in again`);
  }
  return outcome.token;
}
