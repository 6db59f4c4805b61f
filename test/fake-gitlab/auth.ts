// Token authentication and authorization as GitLab's API guard does it, with its exact 401/403 bodies.
import type { IncomingHttpHeaders } from 'node:http';
import type { Ctx, Reply } from './http.js';
import { message, oauthError } from './http.js';
import type { FakeState } from './state.js';
import type { FakeOauthToken, FakePersonalAccessToken, FakeUser } from './types.js';

export interface Authed {
  user: FakeUser;
  scopes: string[];
  pat: FakePersonalAccessToken | null;
  oauth: FakeOauthToken | null;
}

export type AuthResult = { ok: true; auth: Authed } | { ok: false; reply: Reply };

const INVALID_TOKEN_HEADERS = { 'www-authenticate': 'Bearer realm="The API", error="invalid_token"' };

export const unauthorized = (): Reply => message(401, '401 Unauthorized');
export const forbidden = (reason?: string): Reply => message(403, reason ? `403 Forbidden - ${reason}` : '403 Forbidden');

function tokenExpired(): Reply {
  return oauthError(401, 'invalid_token', 'Token is expired. You can either do re-authorization or token refresh.', {}, INVALID_TOKEN_HEADERS);
}

function tokenRevoked(): Reply {
  return oauthError(401, 'invalid_token', 'Token was revoked. You have to re-authorize from the user.', {}, INVALID_TOKEN_HEADERS);
}

function insufficientScope(): Reply {
  // GitLab names the scope the endpoint wants; the captured answer (facts §2) says "api".
  return oauthError(403, 'insufficient_scope', 'The request requires higher privileges than provided by the access token.', { scope: 'api' });
}

/** Where the token came from decides what it may be: PRIVATE-TOKEN is a PAT, Bearer is OAuth first, then PAT. */
export function findCredential(headers: IncomingHttpHeaders, query: URLSearchParams): { value: string; oauthFirst: boolean } | null {
  const privateToken = headers['private-token'];
  if (typeof privateToken === 'string' && privateToken) return { value: privateToken, oauthFirst: false };
  const authorization = headers.authorization;
  if (typeof authorization === 'string') {
    const m = /^Bearer\s+(.+)$/i.exec(authorization.trim());
    if (m?.[1]) return { value: m[1], oauthFirst: true };
  }
  const queryPrivate = query.get('private_token');
  if (queryPrivate) return { value: queryPrivate, oauthFirst: false };
  const queryAccess = query.get('access_token');
  if (queryAccess) return { value: queryAccess, oauthFirst: true };
  return null;
}

/**
 * Authenticates the request. `allowedScopes` are the scopes the endpoint accepts (any one suffices);
 * token state is checked before scope, and the user's state last, in GitLab's order.
 */
export function authenticate(ctx: Ctx, allowedScopes: string[]): AuthResult {
  const fake = ctx.fake;
  const credential = findCredential(ctx.headers, ctx.query);
  if (!credential) return { ok: false, reply: unauthorized() };

  let oauth: FakeOauthToken | null = null;
  let pat: FakePersonalAccessToken | null = null;
  if (credential.oauthFirst) oauth = [...fake.oauthTokens.values()].find((t) => t.accessToken === credential.value) ?? null;
  if (!oauth) pat = [...fake.personalAccessTokens.values()].find((p) => p.token === credential.value) ?? null;
  if (!oauth && !pat) return { ok: false, reply: unauthorized() };

  let scopes: string[];
  let userId: number;
  if (oauth) {
    if (fake.isOauthTokenExpired(oauth)) return { ok: false, reply: tokenExpired() };
    if (oauth.revoked) return { ok: false, reply: tokenRevoked() };
    fake.revokePreviousRefreshToken(oauth);
    scopes = oauth.scopes;
    userId = oauth.userId;
  } else {
    const p = pat as FakePersonalAccessToken;
    if (fake.isPatExpired(p)) return { ok: false, reply: tokenExpired() };
    if (p.revoked) {
      // GitLab 16.3+: a revoked token that was rotated is presented again, so the family is compromised.
      fake.revokePatFamily(p.id);
      return { ok: false, reply: tokenRevoked() };
    }
    scopes = p.scopes;
    userId = p.userId;
  }

  if (!scopes.some((s) => allowedScopes.includes(s))) return { ok: false, reply: insufficientScope() };
  const user = fake.users.get(userId);
  if (!user) return { ok: false, reply: unauthorized() };
  const denied = accessDeniedReason(fake, user);
  if (denied) return { ok: false, reply: forbidden(denied) };
  if (pat) pat.lastUsedAt = fake.nowIso();
  return { ok: true, auth: { user, scopes, pat, oauth } };
}

/**
 * Why a user may not use the API, in GitLab's words and order (`lib/gitlab/auth/user_access_denied_reason.rb`;
 * terms: `app/policies/global_policy.rb` `required_terms_not_accepted` prevents `access_api`). Null: allowed.
 */
function accessDeniedReason(fake: FakeState, user: FakeUser): string | null {
  const termsRequired = fake.termsEnforced && !user.termsAccepted;
  if (user.state === 'active' && !termsRequired) return null;
  if (user.state === 'blocked_pending_approval') return 'Your account is pending approval from your administrator and hence blocked.';
  if (termsRequired) {
    return `You (@${user.username}) must accept the Terms of Service in order to perform this action. To accept these terms, please access GitLab from a web browser at ${fake.issuer}.`;
  }
  if (user.state === 'deactivated') {
    return `Your account has been deactivated by your administrator. Please log back in from a web browser to reactivate your account at ${fake.issuer}`;
  }
  return 'Your account has been blocked.';
}

/** Scopes an endpoint accepts: read_api covers every GET, extra ones (read_user) per endpoint. */
export function scopesFor(ctx: Ctx, readExtras: string[] = []): string[] {
  const read = ctx.method === 'GET' || ctx.method === 'HEAD';
  return read ? ['api', 'read_api', ...readExtras] : ['api'];
}

/** Admin powers take effect only outside Admin Mode or with the admin_mode scope (pitfall 1). */
export function actsAsAdmin(fake: FakeState, auth: Authed): boolean {
  return auth.user.admin && (!fake.adminMode || auth.scopes.includes('admin_mode'));
}

/** `authenticated_as_admin!`: authenticate, then 403 for anyone who cannot act as admin right now. */
export function requireAdmin(ctx: Ctx, readExtras: string[] = []): AuthResult {
  const result = authenticate(ctx, scopesFor(ctx, readExtras));
  if (result.ok && !actsAsAdmin(ctx.fake, result.auth)) return { ok: false, reply: forbidden() };
  return result;
}
