// REST routes for instance metadata and users: /version, /metadata, /user, /users.
import { actsAsAdmin, authenticate, requireAdmin, scopesFor } from './auth.js';
import { metadata, userBasic, userWithEmail } from './entities.js';
import type { Ctx, Reply, Route } from './http.js';
import type { FakeUser } from './types.js';
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
  const named = username === null ? [...ctx.fake.users.values()] : ctx.fake.usersNamed(username);
  // `active=true` keeps active users only (lib/api/users.rb, UsersFinder#by_active); x-total counts them.
  const users = ctx.query.get('active') === 'true' ? named.filter((u) => u.state === 'active') : named;
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
  // A group path holds the name: the namespace validation fails (render_validation_error!, 400).
  if (ctx.fake.groupPaths.has(username.toLowerCase())) return message(400, { username: ['has already been taken'] });
  const password = str(p, 'password');
  const generated = bool(p, 'reset_password', false) || bool(p, 'force_random_password', false);
  if (!generated && password !== undefined && password.length < 8) {
    return message(400, { password: ['is too short (minimum is 8 characters)'] });
  }
  // EE user cap: even an admin-created user waits for approval (ee/app/services/ee/users/build_service.rb).
  const state = ctx.fake.userCapReached() ? 'blocked_pending_approval' : 'active';
  const user = ctx.fake.createUser({ username, name: str(p, 'name'), email, admin: bool(p, 'admin', false), state, note: str(p, 'note') ?? null });
  ctx.fake.counters.usersCreated++;
  return json(201, userWithEmail(ctx.fake, user, true));
}

/** The admin's target user, or the reply that ends the request. */
function adminTarget(ctx: Ctx): { user: FakeUser } | { reply: Reply } {
  const result = requireAdmin(ctx);
  if (!result.ok) return { reply: result.reply };
  const user = ctx.fake.users.get(Number(ctx.match[1]));
  return user ? { user } : { reply: message(404, '404 User Not Found') };
}

/** GitLab's `blocked?`: every state but active and deactivated (app/models/user.rb). */
const isBlocked = (user: FakeUser) => user.state !== 'active' && user.state !== 'deactivated';

/** POST /users/:id/block (lib/api/users.rb): LDAP-blocked users are refused; a blocked user stays as is. */
function blockUser(ctx: Ctx): Reply {
  const target = adminTarget(ctx);
  if ('reply' in target) return target.reply;
  const { user } = target;
  if (user.state === 'ldap_blocked') return message(403, '403 Forbidden - LDAP blocked users cannot be modified by the API');
  if (!isBlocked(user)) {
    ctx.fake.counters.usersBlocked++;
    user.state = 'blocked';
  }
  return json(201, true);
}

/** POST /users/:id/unblock (lib/api/users.rb): refuses LDAP-blocked and deactivated users. */
function unblockUser(ctx: Ctx): Reply {
  const target = adminTarget(ctx);
  if ('reply' in target) return target.reply;
  const { user } = target;
  if (user.state === 'ldap_blocked') return message(403, '403 Forbidden - LDAP blocked users cannot be unblocked by the API');
  if (user.state === 'deactivated') return message(403, '403 Forbidden - Deactivated users cannot be unblocked by the API');
  if (user.state !== 'active') ctx.fake.counters.usersUnblocked++;
  user.state = 'active';
  return json(201, true);
}

/** POST /users/:id/activate (app/services/users/activate_service.rb): a blocked user must be unblocked first. */
function activateUser(ctx: Ctx): Reply {
  const target = adminTarget(ctx);
  if ('reply' in target) return target.reply;
  const { user } = target;
  if (isBlocked(user)) return message(403, 'Error occurred. A blocked user must be unblocked to be activated');
  if (user.state === 'deactivated') ctx.fake.counters.usersReactivated++;
  user.state = 'active';
  return json(201, true);
}

/** POST /users/:id/unban (app/services/users/banned_user_base_service.rb): only a banned user. */
function unbanUser(ctx: Ctx): Reply {
  const target = adminTarget(ctx);
  if ('reply' in target) return target.reply;
  const { user } = target;
  if (user.state !== 'banned') return message(403, `You cannot unban ${user.state} users.`);
  ctx.fake.counters.usersReactivated++;
  user.state = 'active';
  return json(201, true);
}

/**
 * POST /users/:id/approve (app/services/users/approve_service.rb): only a user pending approval (409
 * otherwise); allowed even while the user cap is reached (MR !47993). Answers `{ message: 'Success' }` with 201.
 */
function approveUser(ctx: Ctx): Reply {
  const target = adminTarget(ctx);
  if ('reply' in target) return target.reply;
  const { user } = target;
  if (user.state !== 'blocked_pending_approval') return message(409, 'The user you are trying to approve is not pending approval');
  ctx.fake.counters.usersReactivated++;
  user.state = 'active';
  return json(201, { message: 'Success' });
}

export const userRoutes: Route[] = [
  { method: 'GET', pattern: new RegExp(`^${API}/version$`), handler: getMetadata },
  { method: 'GET', pattern: new RegExp(`^${API}/metadata$`), handler: getMetadata },
  { method: 'GET', pattern: new RegExp(`^${API}/user$`), handler: getCurrentUser },
  { method: 'GET', pattern: new RegExp(`^${API}/users$`), handler: listUsers },
  { method: 'POST', pattern: new RegExp(`^${API}/users$`), handler: createUser },
  { method: 'GET', pattern: new RegExp(`^${API}/users/(\\d+)$`), handler: getUser },
  { method: 'POST', pattern: new RegExp(`^${API}/users/(\\d+)/block$`), handler: blockUser },
  { method: 'POST', pattern: new RegExp(`^${API}/users/(\\d+)/unblock$`), handler: unblockUser },
  { method: 'POST', pattern: new RegExp(`^${API}/users/(\\d+)/activate$`), handler: activateUser },
  { method: 'POST', pattern: new RegExp(`^${API}/users/(\\d+)/unban$`), handler: unbanUser },
  { method: 'POST', pattern: new RegExp(`^${API}/users/(\\d+)/approve$`), handler: approveUser },
];
