// JSON renderings of the fake's records, following GitLab's Grape entities (UserBasic, UserWithAdmin, ...).
import type { FakeState } from './state.js';
import type { FakeApplication, FakePersonalAccessToken, FakeUser } from './types.js';

/** UserBasic: what anyone may see of a user. */
export function userBasic(fake: FakeState, user: FakeUser): Record<string, unknown> {
  return {
    id: user.id, username: user.username, name: user.name, state: user.state, locked: false,
    avatar_url: `https://www.gravatar.com/avatar/${String(user.id)}?s=80&d=identicon`,
    web_url: `${fake.url}/${user.username}`, bot: false, created_at: user.createdAt,
  };
}

/**
 * UserPublic (self) adds the e-mail; UserWithAdmin adds is_admin and, for an admin viewer only, the
 * admin `note` (GET /users and GET /users/:id, gitlab-org/gitlab-ee!14662).
 */
export function userWithEmail(fake: FakeState, user: FakeUser, withAdmin: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = { ...userBasic(fake, user), email: user.email, public_email: null };
  if (withAdmin) {
    out.is_admin = user.admin;
    out.note = user.note;
  }
  return out;
}

export function personalAccessToken(fake: FakeState, pat: FakePersonalAccessToken, withToken = false): Record<string, unknown> {
  const out: Record<string, unknown> = {
    id: pat.id, name: pat.name, revoked: pat.revoked, created_at: pat.createdAt, description: pat.description,
    scopes: pat.scopes, user_id: pat.userId, last_used_at: pat.lastUsedAt, active: fake.isPatActive(pat),
    expires_at: pat.expiresAt,
  };
  if (withToken) out.token = pat.token;
  return out;
}

/**
 * Entities::Application (lib/api/entities/application.rb), with `scopes` as an array
 * (`application.scopes.to_a`); ApplicationWithSecret adds the secret (create, renew-secret). Which
 * release began exposing `scopes` was not pinned down (the 17.9 docs' examples lack it, later ones
 * show it): the fake always does, and the service falls back to the scopes it stored when absent.
 */
export function application(app: FakeApplication, withSecret = false): Record<string, unknown> {
  const out: Record<string, unknown> = {
    id: app.id, application_id: app.uid, application_name: app.name, callback_url: app.redirectUri,
    confidential: app.confidential, scopes: [...app.scopes],
  };
  if (withSecret) out.secret = app.secret;
  return out;
}

export function metadata(fake: FakeState): Record<string, unknown> {
  return {
    version: fake.version, revision: fake.revision,
    kas: { enabled: false, externalUrl: null, version: null },
    enterprise: fake.version.endsWith('-ee'),
  };
}
