// OpenID Connect parts: discovery document, the RSA signing key and its JWKS, ID tokens and /oauth/userinfo.
import { createHash, createPrivateKey, createPublicKey, sign, type KeyObject } from 'node:crypto';
import { authenticate } from './auth.js';
import type { Ctx, Reply, Route } from './http.js';
import { json, oauthError } from './http.js';
import { ALL_SCOPES, type FakeState } from './state.js';
import { SIGNING_KEYS_PEM } from './signing-keys.js';
import type { FakeUser } from './types.js';

interface SigningKey {
  privateKey: KeyObject;
  jwk: Record<string, string>;
}

// One key per fake, taken on first use from the test key set, round robin (see signing-keys.ts).
const keys = new WeakMap<FakeState, SigningKey>();
let keysTaken = 0;

/** The fake's RS256 signing key and its JWK (RFC 7517), the next of the test key set on first use. */
export function signingKey(fake: FakeState): SigningKey {
  let key = keys.get(fake);
  if (!key) {
    const privateKey = createPrivateKey(SIGNING_KEYS_PEM[keysTaken++ % SIGNING_KEYS_PEM.length]);
    const { n, e } = createPublicKey(privateKey).export({ format: 'jwk' }) as { n: string; e: string };
    // RFC 7638 thumbprint as kid, as doorkeeper-openid_connect does.
    const kid = createHash('sha256').update(JSON.stringify({ e, kty: 'RSA', n })).digest('base64url');
    key = { privateKey, jwk: { kty: 'RSA', kid, e, n, use: 'sig', alg: 'RS256' } };
    keys.set(fake, key);
  }
  return key;
}

const b64url = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

export function signJwt(fake: FakeState, claims: Record<string, unknown>): string {
  const key = signingKey(fake);
  const input = `${b64url({ typ: 'JWT', kid: key.jwk.kid, alg: 'RS256' })}.${b64url(claims)}`;
  return `${input}.${sign('sha256', Buffer.from(input), key.privateKey).toString('base64url')}`;
}

/** Claims shared by the ID token and userinfo; the primary e-mail only with the email scope. */
function userClaims(fake: FakeState, user: FakeUser, scopes: string[]): Record<string, unknown> {
  const claims: Record<string, unknown> = {
    sub: String(user.id), name: user.name, nickname: user.username, preferred_username: user.username,
    website: '', profile: `${fake.url}/${user.username}`, picture: `https://www.gravatar.com/avatar/${String(user.id)}?s=80&d=identicon`,
  };
  if (scopes.includes('email')) Object.assign(claims, { email: user.email, email_verified: true });
  return claims;
}

export function idToken(fake: FakeState, input: { user: FakeUser; clientId: string; scopes: string[]; nonce: string | null; authTime: number }): string {
  const iat = Math.floor(fake.now().getTime() / 1000);
  return signJwt(fake, {
    iss: fake.issuer, aud: input.clientId, exp: iat + 120, iat, auth_time: Math.floor(input.authTime / 1000),
    ...(input.nonce ? { nonce: input.nonce } : {}),
    sub_legacy: createHash('sha256').update(String(input.user.id)).digest('hex'),
    ...userClaims(fake, input.user, input.scopes), groups_direct: [],
  });
}

function discovery(ctx: Ctx): Reply {
  const base = ctx.fake.url;
  return json(200, {
    issuer: ctx.fake.issuer,
    authorization_endpoint: `${base}/oauth/authorize`,
    token_endpoint: `${base}/oauth/token`,
    revocation_endpoint: `${base}/oauth/revoke`,
    introspection_endpoint: `${base}/oauth/introspect`,
    userinfo_endpoint: `${base}/oauth/userinfo`,
    jwks_uri: `${base}/oauth/discovery/keys`,
    scopes_supported: ALL_SCOPES,
    response_types_supported: ['code'],
    response_modes_supported: ['query', 'fragment', 'form_post'],
    grant_types_supported: ['authorization_code', 'password', 'client_credentials', 'device_code', 'refresh_token'],
    token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: ['RS256'],
    claim_types_supported: ['normal'],
    claims_supported: ['iss', 'sub', 'aud', 'exp', 'iat', 'sub_legacy', 'name', 'nickname', 'preferred_username', 'email',
      'email_verified', 'website', 'profile', 'picture', 'groups', 'groups_direct', 'https://gitlab.org/claims/groups/owner',
      'https://gitlab.org/claims/groups/maintainer', 'https://gitlab.org/claims/groups/developer'],
  });
}

function userinfo(ctx: Ctx): Reply {
  const header = { 'www-authenticate': 'Bearer realm="Doorkeeper", error="invalid_token", error_description="The access token is invalid"' };
  const bearer = /^Bearer\s+(.+)$/i.exec((ctx.headers.authorization ?? ''))?.[1] ?? ctx.query.get('access_token');
  const token = bearer ? [...ctx.fake.oauthTokens.values()].find((t) => t.accessToken === bearer) : undefined;
  if (!token) return oauthError(401, 'invalid_token', 'The access token is invalid', {}, header);
  const result = authenticate(ctx, ['openid']);
  if (!result.ok) return result.reply;
  return json(200, { ...userClaims(ctx.fake, result.auth.user, token.scopes), groups: [] });
}

export const oidcRoutes: Route[] = [
  { method: 'GET', pattern: /^\/\.well-known\/openid-configuration$/, handler: discovery },
  { method: 'GET', pattern: /^\/oauth\/discovery\/keys$/, handler: (ctx) => json(200, { keys: [signingKey(ctx.fake).jwk] }) },
  { method: 'GET', pattern: /^\/oauth\/userinfo$/, handler: userinfo },
  { method: 'POST', pattern: /^\/oauth\/userinfo$/, handler: userinfo },
];
