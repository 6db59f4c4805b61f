// The bootstrap's checks: is the URL a GitLab of a supported version, and can the admin token set it up.
import { AppError } from '../../errors.js';
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
  const reason = outcome.reason;
  if (!(reason instanceof GitlabApiError)) return true;
  return reason.status >= 500 || reason.status === 429 || (reason.status >= 300 && reason.status < 400) || isBlockedAnswer(reason);
}

/**
 * GitLab fingerprints that need no credentials (gitlab-facts §1): the OpenID configuration whose keys
 * live at /oauth/discovery/keys, or the API's JSON 401 on /api/v4/version.
 */
export function judgeProbe(url: string, openid: Outcome<OpenIdConfiguration>, anonymousVersion: Outcome<GitlabVersion>): void {
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

export function judgeVersion(version: string): void {
  const parsed = parseVersion(version);
  const [minMajor, minMinor] = parseVersion(MINIMUM_GITLAB_VERSION)!;
  if (!parsed) throw new AppError('gitlab_error', `GitLab reported a version that cannot be read: ${version.slice(0, 40)}`);
  const [major, minor] = parsed;
  if (major < minMajor || (major === minMajor && minor < minMinor)) {
    throw new AppError('gitlab_version_unsupported', `GitLab ${version} is older than ${MINIMUM_GITLAB_VERSION}, the oldest version supported`);
  }
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
  if (user.status === 'rejected') throw toAppError(user.reason);
  if (self.status === 'rejected') {
    const reason = self.reason;
    if (reason instanceof GitlabApiError && reason.status === 400) throw new AppError('token_invalid', 'The admin token must be a personal access token');
    throw toAppError(reason);
  }
  const token = self.value;
  if (token.revoked) throw new AppError('token_revoked', 'The admin token was revoked');
  if (token.expires_at && token.expires_at <= dateOnly(now)) throw new AppError('token_expired', `The admin token expired on ${token.expires_at}`);
  if (!token.active) throw new AppError('token_revoked', 'The admin token is not active');
  const missingScopes = ADMIN_TOKEN_SCOPES.filter((scope) => !token.scopes.includes(scope));
  if (missingScopes.length > 0) {
    throw new AppError('token_missing_scope', `The admin token lacks the scope ${missingScopes.join(', ')}`, { missingScopes });
  }
  if (user.value.is_admin !== true) throw new AppError('token_not_admin', `${user.value.username} is not an administrator of this instance`);
  if (adminProbe.status === 'rejected') {
    const reason = adminProbe.reason;
    const forbidden = reason instanceof GitlabApiError && reason.status === 403 && reason.error !== 'insufficient_scope';
    if (forbidden && !token.scopes.includes(ADMIN_MODE_SCOPE)) {
      throw new AppError('admin_mode_scope_required', 'Admin Mode is on for this instance: create the admin token with the admin_mode scope as well as api', {
        missingScopes: [ADMIN_MODE_SCOPE],
      });
    }
    throw toAppError(reason);
  }
}
