// POST /oauth/token, /oauth/revoke and GET /oauth/token/info: Doorkeeper's grants with its exact error bodies.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Ctx, Reply, Route } from './http.js';
import { json, oauthError, paramText, str } from './http.js';
import { idToken } from './oidc.js';
import type { FakeApplication, FakeOauthToken } from './types.js';

const INVALID_GRANT = 'The provided authorization grant is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client.';
const INVALID_CLIENT = 'Client authentication failed due to unknown client, no client authentication included, or unsupported authentication method.';

const invalidGrant = (): Reply => oauthError(400, 'invalid_grant', INVALID_GRANT);
const missing = (param: string): Reply => oauthError(400, 'invalid_request', `Missing required parameter: ${param}.`);
const noStore = { 'cache-control': 'no-store', pragma: 'no-cache' };

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Client credentials from HTTP Basic (form-url-decoded, RFC 6749 §2.3.1) or the body. */
function clientCredentials(ctx: Ctx): { id?: string; secret?: string } {
  const m = /^Basic\s+(.+)$/i.exec((ctx.headers.authorization ?? ''));
  if (m?.[1]) {
    const decoded = Buffer.from(m[1], 'base64').toString('utf8');
    const i = decoded.indexOf(':');
    if (i > 0) return { id: decodeURIComponent(decoded.slice(0, i)), secret: decodeURIComponent(decoded.slice(i + 1)) };
  }
  return { id: str(ctx.params, 'client_id'), secret: str(ctx.params, 'client_secret') };
}

/** A confidential app must prove its secret; a public one may not send a wrong one. */
function authenticateClient(ctx: Ctx): FakeApplication | null {
  const { id, secret } = clientCredentials(ctx);
  const app = id ? [...ctx.fake.applications.values()].find((a) => a.uid === id) : undefined;
  if (!app) return null;
  if (secret === undefined || secret === '') return app.confidential ? null : app;
  return same(secret, app.secret) ? app : null;
}

function tokenResponse(ctx: Ctx, app: FakeApplication, token: FakeOauthToken, grantType: string): Reply {
  const fake = ctx.fake;
  fake.grants[grantType] = (fake.grants[grantType] ?? 0) + 1;
  const body: Record<string, unknown> = {
    access_token: token.accessToken, token_type: 'Bearer', expires_in: token.expiresIn,
    refresh_token: token.refreshToken, scope: token.scopes.join(' '), created_at: Math.floor(token.createdAt / 1000),
  };
  const user = fake.users.get(token.userId);
  if (token.scopes.includes('openid') && user) {
    body.id_token = idToken(fake, { user, clientId: app.uid, scopes: token.scopes, nonce: token.nonce, authTime: token.authTime });
  }
  return json(200, body, noStore);
}

function verifierMatches(challenge: string, method: string | null, verifier: string): boolean {
  const computed = method === 'S256' ? createHash('sha256').update(verifier).digest('base64url') : verifier;
  return same(computed, challenge);
}

function authorizationCode(ctx: Ctx, app: FakeApplication): Reply {
  const fake = ctx.fake;
  const code = str(ctx.params, 'code');
  if (!code) return missing('code');
  const grant = fake.oauthGrants.get(code);
  if (!grant || grant.applicationId !== app.id || grant.expiresAt <= fake.now().getTime()) return invalidGrant();
  if (grant.used) {
    // A replayed code may be stolen: revoke what it produced (RFC 6749 §4.1.2).
    for (const t of fake.oauthTokens.values()) if (t.grantCode === code && !t.revoked) { t.revoked = true; fake.counters.oauthTokensRevoked++; }
    return invalidGrant();
  }
  const redirectUri = str(ctx.params, 'redirect_uri');
  const verifier = str(ctx.params, 'code_verifier');
  if (grant.codeChallenge && !verifier) return missing('code_verifier');
  if (!redirectUri) return missing('redirect_uri');
  if (redirectUri !== grant.redirectUri) return invalidGrant();
  if (grant.codeChallenge && !verifierMatches(grant.codeChallenge, grant.codeChallengeMethod, verifier as string)) return invalidGrant();
  grant.used = true;
  const token = fake.createOauthToken({
    applicationId: app.id, userId: grant.userId, scopes: grant.scopes, grantCode: code, nonce: grant.nonce, authTime: grant.authTime, previousTokenId: null,
  });
  return tokenResponse(ctx, app, token, 'authorization_code');
}

function refreshToken(ctx: Ctx, app: FakeApplication): Reply {
  const fake = ctx.fake;
  const value = str(ctx.params, 'refresh_token');
  if (!value) return missing('refresh_token');
  const old = [...fake.oauthTokens.values()].find((t) => t.refreshToken === value);
  // Doorkeeper with `previous_refresh_token` (GitLab's oauth_access_tokens has the column, so
  // refresh_token_revoked_on_use? is true; doorkeeper lib/doorkeeper/oauth/refresh_token_request.rb):
  // a refresh does NOT revoke the old row; the new token remembers it, and the old pair (access and
  // refresh token) stays usable until the new access token is first used at the API, where
  // `find_oauth_access_token` calls `revoke_previous_refresh_token!` (gitlabhq
  // lib/gitlab/auth/auth_finders.rb). Until then the old refresh token refreshes again.
  if (!old || old.revoked || old.applicationId !== app.id) return invalidGrant();
  const scopeParam = str(ctx.params, 'scope');
  const scopes = scopeParam ? scopeParam.split(/\s+/).filter(Boolean) : old.scopes;
  if (!scopes.every((s) => old.scopes.includes(s))) return oauthError(400, 'invalid_scope', 'The requested scope is invalid, unknown, or malformed.');
  const token = fake.createOauthToken({
    applicationId: app.id, userId: old.userId, scopes, grantCode: old.grantCode, nonce: null, authTime: old.authTime, previousTokenId: old.id,
  });
  return tokenResponse(ctx, app, token, 'refresh_token');
}

function token(ctx: Ctx): Reply {
  ctx.fake.tokenRequests.push(Object.fromEntries(Object.entries(ctx.params).map(([k, v]) => [k, paramText(v ?? '')])));
  const grantType = str(ctx.params, 'grant_type');
  if (!grantType) return missing('grant_type');
  if (grantType !== 'authorization_code' && grantType !== 'refresh_token') {
    return oauthError(400, 'unsupported_grant_type', 'The authorization grant type is not supported by the authorization server.');
  }
  const app = authenticateClient(ctx);
  if (!app) return oauthError(401, 'invalid_client', INVALID_CLIENT, {}, { 'www-authenticate': 'Basic realm="Doorkeeper"' });
  return grantType === 'authorization_code' ? authorizationCode(ctx, app) : refreshToken(ctx, app);
}

function revoke(ctx: Ctx): Reply {
  const app = authenticateClient(ctx);
  if (!app) return oauthError(403, 'unauthorized_client', 'You are not authorized to revoke this token');
  const value = str(ctx.params, 'token');
  const found = value ? [...ctx.fake.oauthTokens.values()].find((t) => t.applicationId === app.id && (t.accessToken === value || t.refreshToken === value)) : undefined;
  if (found && !found.revoked) { found.revoked = true; ctx.fake.counters.oauthTokensRevoked++; }
  // RFC 7009: unknown tokens also get 200.
  return json(200, {});
}

function tokenInfo(ctx: Ctx): Reply {
  const bearer = /^Bearer\s+(.+)$/i.exec((ctx.headers.authorization ?? ''))?.[1] ?? ctx.query.get('access_token');
  const t = bearer ? [...ctx.fake.oauthTokens.values()].find((x) => x.accessToken === bearer) : undefined;
  if (!t || t.revoked || ctx.fake.isOauthTokenExpired(t)) return oauthError(401, 'invalid_token', 'The access token is invalid', {}, { 'www-authenticate': 'Bearer realm="Doorkeeper", error="invalid_token"' });
  const app = ctx.fake.applications.get(t.applicationId);
  const expiresIn = Math.max(0, Math.floor((t.createdAt + t.expiresIn * 1000 - ctx.fake.now().getTime()) / 1000));
  return json(200, { resource_owner_id: t.userId, scope: t.scopes, expires_in: expiresIn, application: { uid: app?.uid ?? null }, created_at: Math.floor(t.createdAt / 1000) });
}

export const tokenEndpointRoutes: Route[] = [
  { method: 'POST', pattern: /^\/oauth\/token$/, handler: token },
  { method: 'POST', pattern: /^\/oauth\/revoke$/, handler: revoke },
  { method: 'GET', pattern: /^\/oauth\/token\/info$/, handler: tokenInfo },
];
