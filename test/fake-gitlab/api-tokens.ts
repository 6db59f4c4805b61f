// REST routes for personal access tokens: creation for a user (admin), self, lookup, rotation, revocation.
import type { Authed } from './auth.js';
import { actsAsAdmin, authenticate, requireAdmin, scopesFor, unauthorized } from './auth.js';
import { personalAccessToken } from './entities.js';
import type { Ctx, ParamValue, Reply, Route } from './http.js';
import { json, message, paginated, paramText, str, validationError } from './http.js';
import { ALL_SCOPES, PAT_SCOPES } from './state.js';
import type { FakePersonalAccessToken } from './types.js';

const API = '/api/v4';
const notFound = (): Reply => message(404, '404 Not Found');

/** Grape's CommaSeparatedToArray coercion: `scopes[]=a&scopes[]=b`, a JSON array or "a,b". */
function parseScopes(value: ParamValue | undefined): string[] | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const list = Array.isArray(value) ? value.map(String) : paramText(value).split(',');
  return list.flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean);
}

/** A YYYY-MM-DD expiry as sent, checked against the maximum lifetime; `reply` when invalid or beyond it. */
function checkedExpiry(ctx: Ctx, raw: string, refusalStatus: number): string | Reply {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(raw) || Number.isNaN(Date.parse(raw))) return validationError(['expires_at is invalid']);
  const max = ctx.fake.dateInDays(ctx.fake.maxTokenLifetimeDays);
  // app/models/personal_access_token.rb expires_at_before_instance_max_expiry_date: "must be before %{expiry_date}"
  // (errors.full_messages: "Expiration date must be before …").
  if (raw > max) return message(refusalStatus, `Expiration date must be before ${max}`);
  return raw;
}

/**
 * The expiry of a new token (POST /users/:id/personal_access_tokens): lib/api/users.rb answers a refused
 * token with `render_api_error!(response.message, response.http_status || :unprocessable_entity)`, 422.
 * Without `expires_at`, GitLab sets its maximum, except on EE 16.x with a maximum lifetime set
 * (`max_personal_access_token_lifetime`), where the model's expiry policy refuses it (EE
 * PersonalAccessToken `expires_at_before_max_expiry_date` with the instance-level policy;
 * gitlab-org/gitlab#429864; the fake models it on 16.x EE, as gitlab-facts says): 422 "Expiration date must be before …".
 */
function creationExpiry(ctx: Ctx): string | Reply {
  const raw = str(ctx.params, 'expires_at');
  if (raw !== undefined && raw !== '') return checkedExpiry(ctx, raw, 422);
  const { fake } = ctx;
  if (fake.maxTokenLifetimeSet && fake.version.endsWith('-ee') && !fake.atLeast(17, 0)) {
    return message(422, `Expiration date must be before ${fake.dateInDays(fake.maxTokenLifetimeDays)}`);
  }
  return fake.dateInDays(fake.maxTokenLifetimeDays);
}

/**
 * The expiry of a rotated token (app/services/personal_access_tokens/rotate_service.rb): `expires_at` is
 * honoured from 16.6 (doc/api/personal_access_tokens.md: `expires_at` on rotate introduced in 16.6; gitlab-facts); before, and without it, the new token gets
 * EXPIRATION_PERIOD, one week. Beyond the maximum lifetime: 400 (lib/api/personal_access_tokens.rb
 * `bad_request!(response.message)`).
 */
function rotationExpiry(ctx: Ctx): string | Reply {
  const raw = str(ctx.params, 'expires_at');
  if (raw === undefined || raw === '' || !ctx.fake.atLeast(16, 6)) return ctx.fake.dateInDays(Math.min(7, ctx.fake.maxTokenLifetimeDays));
  return checkedExpiry(ctx, raw, 400);
}

function canManage(ctx: Ctx, auth: Authed, pat: FakePersonalAccessToken): boolean {
  return pat.userId === auth.user.id || actsAsAdmin(ctx.fake, auth);
}

function createForUser(ctx: Ctx): Reply {
  const result = requireAdmin(ctx);
  if (!result.ok) return result.reply;
  const name = str(ctx.params, 'name');
  const scopes = parseScopes(ctx.params.scopes);
  const problems = [...(name ? [] : ['name is missing']), ...(scopes?.length ? [] : ['scopes is missing'])];
  if (scopes?.some((s) => !ALL_SCOPES.includes(s))) problems.push('scopes does not have a valid value');
  if (problems.length) return validationError(problems);
  const expiresAt = creationExpiry(ctx);
  if (typeof expiresAt !== 'string') return expiresAt;
  const user = ctx.fake.users.get(Number(ctx.match[1]));
  if (!user) return message(404, '404 User Not Found');
  if (user.state === 'blocked') return message(403, 'Not permitted to create');
  const { id } = ctx.fake.createPersonalAccessToken(user.id, {
    name, scopes: scopes as string[], expiresAt, description: str(ctx.params, 'description') ?? null,
  });
  ctx.fake.counters.personalAccessTokensCreated++;
  return json(201, personalAccessToken(ctx.fake, ctx.fake.personalAccessTokens.get(id) as FakePersonalAccessToken, true));
}

function rotate(ctx: Ctx, pat: FakePersonalAccessToken): Reply {
  if (pat.revoked) {
    // Reuse detection (16.3): rotating a revoked token means the chain leaked; revoke all of it.
    ctx.fake.revokePatFamily(pat.id);
    return unauthorized();
  }
  if (ctx.fake.isPatExpired(pat)) return unauthorized();
  const expiresAt = rotationExpiry(ctx);
  if (typeof expiresAt !== 'string') return expiresAt;
  pat.revoked = true;
  const { id } = ctx.fake.createPersonalAccessToken(pat.userId, {
    name: pat.name, description: pat.description, scopes: pat.scopes, expiresAt, previousId: pat.id,
  });
  ctx.fake.counters.personalAccessTokensRotated++;
  return json(200, personalAccessToken(ctx.fake, ctx.fake.personalAccessTokens.get(id) as FakePersonalAccessToken, true));
}

function revoke(ctx: Ctx, pat: FakePersonalAccessToken): Reply {
  if (!pat.revoked) ctx.fake.counters.personalAccessTokensRevoked++;
  pat.revoked = true;
  return { status: 204 };
}

/** The /self endpoints accept any scope, but only personal access tokens. */
function selfToken(ctx: Ctx, scopes: string[]): { pat: FakePersonalAccessToken } | { reply: Reply } {
  const result = authenticate(ctx, scopes);
  if (!result.ok) return { reply: result.reply };
  if (!result.auth.pat) return { reply: message(400, '400 Bad request - This endpoint requires token type to be a personal access token') };
  return { pat: result.auth.pat };
}

/**
 * `/personal_access_tokens/:id` (get, rotate, revoke): a user may act on any of their own tokens by id,
 * with any of their tokens (lib/api/personal_access_tokens.rb: `Ability.allowed?(current_user,
 * :rotate_personal_access_token, token&.user)`), an admin on anyone's. "Only admins should be informed
 * if the token doesn't exist": others get 401 for a token that is missing or not theirs.
 */
function withToken(handler: (ctx: Ctx, auth: Authed, pat: FakePersonalAccessToken) => Reply, readExtras: string[] = []) {
  return (ctx: Ctx): Reply => {
    const result = authenticate(ctx, scopesFor(ctx, readExtras));
    if (!result.ok) return result.reply;
    const pat = ctx.fake.personalAccessTokens.get(Number(ctx.match[1]));
    if (!pat || !canManage(ctx, result.auth, pat)) return actsAsAdmin(ctx.fake, result.auth) ? notFound() : unauthorized();
    return handler(ctx, result.auth, pat);
  };
}

function list(ctx: Ctx): Reply {
  const result = authenticate(ctx, scopesFor(ctx));
  if (!result.ok) return result.reply;
  const admin = actsAsAdmin(ctx.fake, result.auth);
  const userId = ctx.query.get('user_id');
  // lib/api/personal_access_tokens.rb `restrict_non_admins!`: a non-admin may name only themselves.
  if (!admin && userId !== null && Number(userId) !== result.auth.user.id) return unauthorized();
  const ownerId = admin ? (userId === null ? null : Number(userId)) : result.auth.user.id;
  const state = ctx.query.get('state');
  const tokens = [...ctx.fake.personalAccessTokens.values()]
    .filter((p) => ownerId === null || p.userId === ownerId)
    .filter((p) => state === null || (state === 'active') === ctx.fake.isPatActive(p));
  return paginated(ctx, tokens.map((p) => personalAccessToken(ctx.fake, p)));
}

export const tokenRoutes: Route[] = [
  { method: 'POST', pattern: new RegExp(`^${API}/users/(\\d+)/personal_access_tokens$`), handler: createForUser },
  {
    method: 'GET', pattern: new RegExp(`^${API}/personal_access_tokens/self$`),
    handler: (ctx) => { const s = selfToken(ctx, PAT_SCOPES); return 'reply' in s ? s.reply : json(200, personalAccessToken(ctx.fake, s.pat)); },
  },
  {
    method: 'POST', pattern: new RegExp(`^${API}/personal_access_tokens/self/rotate$`),
    handler: (ctx) => {
      // lib/api/personal_access_tokens/self_rotation.rb exists from 16.10; before, no route matches: Grape's 404.
      if (!ctx.fake.atLeast(16, 10)) return json(404, { error: '404 Not Found' });
      const s = selfToken(ctx, ['api', 'self_rotate']);
      return 'reply' in s ? s.reply : rotate(ctx, s.pat);
    },
  },
  {
    method: 'DELETE', pattern: new RegExp(`^${API}/personal_access_tokens/self$`),
    handler: (ctx) => { const s = selfToken(ctx, PAT_SCOPES); return 'reply' in s ? s.reply : revoke(ctx, s.pat); },
  },
  { method: 'GET', pattern: new RegExp(`^${API}/personal_access_tokens$`), handler: list },
  { method: 'GET', pattern: new RegExp(`^${API}/personal_access_tokens/(\\d+)$`), handler: withToken((ctx, _a, pat) => json(200, personalAccessToken(ctx.fake, pat))) },
  { method: 'POST', pattern: new RegExp(`^${API}/personal_access_tokens/(\\d+)/rotate$`), handler: withToken((ctx, _a, pat) => rotate(ctx, pat)) },
  { method: 'DELETE', pattern: new RegExp(`^${API}/personal_access_tokens/(\\d+)$`), handler: withToken((ctx, _a, pat) => revoke(ctx, pat)) },
];
