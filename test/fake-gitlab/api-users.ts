// REST routes for instance metadata and users: /version, /metadata, /user, /users.
import { actsAsAdmin, authenticate, requireAdmin, scopesFor } from './auth.js';
import { metadata, userBasic, userWithEmail } from './entities.js';
import type { Ctx, Reply, Route } from './http.js';
import { bool, json, message, paginated, str, validationError } from './http.js';

const API = '/api/v4';

function getMetadata(ctx: Ctx): Reply {
  const result = authenticate(ctx, scopesFor(ctx, ['read_user']));
  if (!result.ok) return result.reply;
  return json(200, metadata(ctx.fake));
}

function getCurrentUser(ctx: Ctx): Reply {
  const result = authenticate(ctx, scopesFor(ctx, ['read_user']));
  if (!result.ok) return result.reply;
  // is_admin reflects the account even under Admin Mode: the trap of pitfall 1.
  return json(200, userWithEmail(ctx.fake, result.auth.user, result.auth.user.admin));
}

function listUsers(ctx: Ctx): Reply {
  const result = authenticate(ctx, scopesFor(ctx, ['read_user']));
  if (!result.ok) return result.reply;
  const admin = actsAsAdmin(ctx.fake, result.auth);
  const username = ctx.query.get('username');
  const users = username === null ? [...ctx.fake.users.values()] : ctx.fake.usersNamed(username);
  return paginated(ctx, users.map((u) => (admin ? userWithEmail(ctx.fake, u, true) : userBasic(ctx.fake, u))));
}

function getUser(ctx: Ctx): Reply {
  const result = authenticate(ctx, scopesFor(ctx, ['read_user']));
  if (!result.ok) return result.reply;
  const user = ctx.fake.users.get(Number(ctx.match[1]));
  if (!user) return message(404, '404 User Not Found');
  return json(200, actsAsAdmin(ctx.fake, result.auth) ? userWithEmail(ctx.fake, user, true) : userBasic(ctx.fake, user));
}

function createUser(ctx: Ctx): Reply {
  const result = requireAdmin(ctx);
  if (!result.ok) return result.reply;
  const p = ctx.params;
  const missing = ['email', 'name', 'username'].filter((k) => !str(p, k));
  if (missing.length) return validationError(missing.map((k) => `${k} is missing`));
  const passwordKeys = ['password', 'reset_password', 'force_random_password'];
  if (!passwordKeys.some((k) => p[k] !== undefined && p[k] !== null && p[k] !== '')) {
    return validationError([`${passwordKeys.join(', ')} are missing, at least one parameter must be provided`]);
  }
  const email = str(p, 'email') as string;
  const username = str(p, 'username') as string;
  const users = [...ctx.fake.users.values()];
  if (users.some((u) => u.email.toLowerCase() === email.toLowerCase())) return message(409, 'Email has already been taken');
  if (users.some((u) => u.username.toLowerCase() === username.toLowerCase())) return message(409, 'Username has already been taken');
  const password = str(p, 'password');
  const generated = bool(p, 'reset_password', false) || bool(p, 'force_random_password', false);
  if (!generated && password !== undefined && password.length < 8) {
    return message(400, { password: ['is too short (minimum is 8 characters)'] });
  }
  const user = ctx.fake.createUser({ username, name: str(p, 'name'), email, admin: bool(p, 'admin', false) });
  ctx.fake.counters.usersCreated++;
  return json(201, userWithEmail(ctx.fake, user, true));
}

function setBlocked(blocked: boolean) {
  return (ctx: Ctx): Reply => {
    const result = requireAdmin(ctx);
    if (!result.ok) return result.reply;
    const user = ctx.fake.users.get(Number(ctx.match[1]));
    if (!user) return message(404, '404 User Not Found');
    if (blocked && user.state !== 'blocked') ctx.fake.counters.usersBlocked++;
    if (!blocked && user.state === 'blocked') ctx.fake.counters.usersUnblocked++;
    user.state = blocked ? 'blocked' : 'active';
    return json(201, true);
  };
}

export const userRoutes: Route[] = [
  { method: 'GET', pattern: new RegExp(`^${API}/version$`), handler: getMetadata },
  { method: 'GET', pattern: new RegExp(`^${API}/metadata$`), handler: getMetadata },
  { method: 'GET', pattern: new RegExp(`^${API}/user$`), handler: getCurrentUser },
  { method: 'GET', pattern: new RegExp(`^${API}/users$`), handler: listUsers },
  { method: 'POST', pattern: new RegExp(`^${API}/users$`), handler: createUser },
  { method: 'GET', pattern: new RegExp(`^${API}/users/(\\d+)$`), handler: getUser },
  { method: 'POST', pattern: new RegExp(`^${API}/users/(\\d+)/block$`), handler: setBlocked(true) },
  { method: 'POST', pattern: new RegExp(`^${API}/users/(\\d+)/unblock$`), handler: setBlocked(false) },
];
