// The bootstrap's checks: is the URL a GitLab of a supported version, and can the admin token set it up.
import { AppError, errorCatalog, present, type ErrorCode } from '../../errors.js';
import { dateOnly } from '../../time.js';
import type { GitlabPersonalAccessToken, GitlabUser, GitlabVersion, OpenIdConfiguration } from '../../gitlab/api.js';
import { GitlabApiError, isBlockedAnswer, toAppError } from '../../gitlab/http.js';
import { ADMIN_MODE_SCOPE, ADMIN_TOKEN_SCOPES, MINIMUM_GITLAB_VERSION } from '../gitlab-requirements.js';

/** A fulfilled or rejected result of one of the calls made in parallel. */
export type Outcome<T> = PromiseSettledResult<T>;

/**
 * No answer at all, GitLab's own trouble (5xx, 429), a redirect, or a proxy's or challenge's HTML 403:
 * each says more than "not GitLab" (gitlab_unreachable…, gitlab_redirected, gitlab_blocked).
 */
function isTroubleReaching(outcome: Outcome<unknown>): outcome is PromiseRejectedResult {
  if (outcome.status !== 'rejected') return false;
  const reason: unknown = outcome.reason;
  if (!(reason instanceof GitlabApiError)) return true;
  return reason.status >= 500 || reason.status === 429 || (reason.status >= 300 && reason.status < 400) || isBlockedAnswer(reason);
}

/**
 * GitLab fingerprints that need no credentials (gitlab-facts §1): the OpenID configuration whose keys
 * live at /oauth/discovery/keys, or the API's JSON 401 on /api/v4/version.
 */
export function judgeProbe(url: string, openid: Outcome<OpenIdConfiguration | null>, anonymousVersion: Outcome<GitlabVersion>): void {
  const openidLooksRight = openid.status === 'fulfilled' && typeof openid.value?.jwks_uri === 'string' && openid.value.jwks_uri.endsWith('/oauth/discovery/keys');
  const apiLooksRight =
    anonymousVersion.status === 'rejected' && anonymousVersion.reason instanceof GitlabApiError && anonymousVersion.reason.status === 401 && anonymousVersion.reason.message.includes('401 Unauthorized');
  if (openidLooksRight || apiLooksRight) return;
  const trouble = [openid, anonymousVersion].find(isTroubleReaching);
  if (trouble) throw toAppError(trouble.reason);
  throw new AppError('not_gitlab', `${url} does not answer like a GitLab instance (no OpenID configuration, no GitLab API)`);
}

/** "17.8.1-ee" → [17, 8]. */
function parseVersion(version: string): [number, number] | undefined {
  const match = /^(\d+)\.(\d+)/.exec(version);
  return match ? [Number(match[1]), Number(match[2])] : undefined;
}

/** True when `version` ("17.8.1-ee") is `minimum` ("16.10") or later; false when it cannot be read. */
export function versionAtLeast(version: string, minimum: string): boolean {
  const parsed = parseVersion(version);
  const [minMajor, minMinor] = present(parseVersion(minimum), `a major.minor in the minimum version ${minimum}`);
  if (!parsed) return false;
  const [major, minor] = parsed;
  return major > minMajor || (major === minMajor && minor >= minMinor);
}

export function judgeVersion(version: string): void {
  if (!parseVersion(version)) throw new AppError('gitlab_error', `GitLab reported a version that cannot be read: ${version.slice(0, 40)}`);
  if (!versionAtLeast(version, MINIMUM_GITLAB_VERSION)) {
    throw new AppError('gitlab_version_unsupported', `GitLab ${version} is older than ${MINIMUM_GITLAB_VERSION}, the oldest version supported`);
  }
}

/** The codes a token's own state maps to: the admin token's, or the bot token's (`bot_` prefix, manual onboarding). */
const TOKEN_CODES = {
  admin: { invalid: 'token_invalid', expired: 'token_expired', revoked: 'token_revoked', missingScope: 'token_missing_scope' },
  bot: { invalid: 'bot_token_invalid', expired: 'bot_token_expired', revoked: 'bot_token_revoked', missingScope: 'bot_token_missing_scope' },
} as const satisfies Record<string, Record<string, ErrorCode>>;

type TokenRole = keyof typeof TOKEN_CODES;

/** What the admin does about a bot token GitLab refused. */
const BOT_TOKEN_ADVICE = "create a new personal access token (scope api) for the bot user and send it again";

/**
 * A GitLab failure seen with the bot token, under the bot's codes (token_revoked → bot_token_revoked)
 * and with advice; a 403 on GET /user means GitLab refuses the bot user itself (blocked, deactivated…).
 */
function asRole(error: AppError, role: TokenRole): AppError {
  if (role === 'admin') return error;
  if (error.code === 'token_not_admin') {
    return new AppError('bot_token_invalid', `GitLab refuses the bot user's API access (${error.message}): unblock or activate it (Admin area > Users), or have it accept the terms`);
  }
  const code = (Object.entries(TOKEN_CODES.admin) as [keyof typeof TOKEN_CODES.admin, ErrorCode][]).find(([, adminCode]) => adminCode === error.code)?.[0];
  return code ? new AppError(TOKEN_CODES.bot[code], `${errorCatalog[TOKEN_CODES.bot[code]].title} (${error.message}): ${BOT_TOKEN_ADVICE}`, error.extras) : error;
}

/**
 * The token's own state from GET /user and GET /personal_access_tokens/self (gitlab-facts §2), in the
 * order that names the real problem: unusable, revoked, expired, inactive, missing `requiredScopes`.
 * Returns the token as GitLab describes it.
 */
function judgeTokenState(now: Date, role: TokenRole, user: Outcome<GitlabUser>, self: Outcome<GitlabPersonalAccessToken>, requiredScopes: readonly string[]): GitlabPersonalAccessToken {
  const codes = TOKEN_CODES[role];
  if (user.status === 'rejected') throw asRole(toAppError(user.reason), role);
  if (self.status === 'rejected') {
    const reason: unknown = self.reason;
    if (reason instanceof GitlabApiError && reason.status === 400) throw new AppError(codes.invalid, `The ${role} token must be a personal access token`);
    throw asRole(toAppError(reason), role);
  }
  const token = self.value;
  if (token.revoked) throw new AppError(codes.revoked, `The ${role} token was revoked`);
  if (token.expires_at && token.expires_at <= dateOnly(now)) throw new AppError(codes.expired, `The ${role} token expired on ${token.expires_at}`);
  if (!token.active) throw new AppError(codes.revoked, `The ${role} token is not active`);
  const missingScopes = requiredScopes.filter((scope) => !token.scopes.includes(scope));
  if (missingScopes.length > 0) {
    throw new AppError(codes.missingScope, `The ${role} token lacks the scope ${missingScopes.join(', ')}: create it with ${requiredScopes.join(', ')}`, { missingScopes });
  }
  return token;
}

/**
 * Classifies the admin token from GET /user, GET /personal_access_tokens/self and an admin-only GET
 * (/applications), in the order that names the real problem: unusable token, then the token's own
 * state and scopes, then admin rights, then Admin Mode (is_admin true but admin calls refused).
 */
export function judgeAdminToken(
  now: Date,
  user: Outcome<GitlabUser>,
  self: Outcome<GitlabPersonalAccessToken>,
  adminProbe: Outcome<unknown>,
): void {
  const token = judgeTokenState(now, 'admin', user, self, ADMIN_TOKEN_SCOPES);
  if (user.status === 'fulfilled' && user.value.is_admin !== true) throw new AppError('token_not_admin', `${user.value.username} is not an administrator of this instance`);
  if (adminProbe.status === 'rejected') {
    const reason: unknown = adminProbe.reason;
    const forbidden = reason instanceof GitlabApiError && reason.status === 403 && reason.error !== 'insufficient_scope';
    if (forbidden && !token.scopes.includes(ADMIN_MODE_SCOPE)) {
      throw new AppError('admin_mode_scope_required', 'Admin Mode is on for this instance: create the admin token with the admin_mode scope as well as api', {
        missingScopes: [ADMIN_MODE_SCOPE],
      });
    }
    throw toAppError(reason);
  }
}

/**
 * Manual onboarding: the bot token is a live personal access token with `api`, of an active user who is
 * NOT an administrator (a bot with admin rights would make every review worker an administrator).
 * Throws the `bot_`-prefixed token codes or bot_token_is_admin; returns the bot and its token.
 */
export function judgeBotToken(now: Date, user: Outcome<GitlabUser>, self: Outcome<GitlabPersonalAccessToken>): { bot: GitlabUser; token: GitlabPersonalAccessToken } {
  const token = judgeTokenState(now, 'bot', user, self, ['api']);
  const bot = (user as PromiseFulfilledResult<GitlabUser>).value;
  if (bot.state !== 'active') throw new AppError('bot_token_invalid', `The bot user ${bot.username} is ${bot.state}: activate it on GitLab (Admin area > Users)`);
  if (bot.is_admin === true) {
    throw new AppError('bot_token_is_admin', `${bot.username} is an administrator: create a regular (non-admin) user for the bot and give its token instead`);
  }
  return { bot, token };
}
