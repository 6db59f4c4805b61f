// Schemas of the GitLab answers this service uses, compiled once: a malformed answer from a hostile or
// broken GitLab becomes 502 gitlab_error naming the operation, never a 500 or a stored oddity.
import Type, { type Static, type TObject, type TSchema } from 'typebox';
import { Compile } from 'typebox/compile';
import { AppError } from '../errors.js';

/** GitLab ids are positive integers; anything past 2^53 cannot be a real one nor round-trip in JSON. */
const Id = Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER });
const Text = (maxLength: number) => Type.String({ maxLength });
const GitlabDate = Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}$' });

export const GitlabUserSchema = Type.Object({
  id: Id,
  username: Type.String({ minLength: 1, maxLength: 255 }),
  name: Text(255),
  state: Text(64),
  email: Type.Optional(Text(255)),
  avatar_url: Type.Optional(Type.Union([Text(2048), Type.Null()])),
  is_admin: Type.Optional(Type.Boolean()),
  bot: Type.Optional(Type.Boolean()),
  /** The admin note: only an administrator sees it (GET /users, GET /users/:id; gitlab-org/gitlab-ee!14662). */
  note: Type.Optional(Type.Union([Text(10_000), Type.Null()])),
});

export const GitlabPersonalAccessTokenSchema = Type.Object({
  id: Id,
  name: Text(255),
  revoked: Type.Boolean(),
  active: Type.Boolean(),
  scopes: Type.Array(Text(64), { maxItems: 64 }),
  user_id: Id,
  expires_at: Type.Union([GitlabDate, Type.Null()]),
  token: Type.Optional(Type.String({ minLength: 1, maxLength: 1024 })),
});

export const GitlabApplicationSchema = Type.Object({
  id: Id,
  application_id: Text(255),
  application_name: Text(255),
  callback_url: Text(4096),
  confidential: Type.Boolean(),
  /**
   * The scopes as GitLab has them (lib/api/entities/application.rb: `expose :scopes`, an array); optional:
   * a GitLab that does not report them leaves the service comparing the scopes it stored.
   */
  scopes: Type.Optional(Type.Array(Text(64), { maxItems: 64 })),
  secret: Type.Optional(Type.String({ minLength: 1, maxLength: 1024 })),
});

export const GitlabVersionSchema = Type.Object({ version: Text(64), revision: Text(64) });

/**
 * The settings of GET /application/settings (admin only; lib/api/settings.rb, entity
 * lib/api/entities/application_setting.rb and EE's ee/lib/ee/api/entities/application_setting.rb) that
 * decide whether the bot can work. All optional: CE lacks the EE ones, and an older GitLab some others.
 * `new_user_signups_cap` is a user count, `max_personal_access_token_lifetime` days; null means none set.
 */
export const GitlabApplicationSettingsSchema = Type.Object({
  enforce_terms: Type.Optional(Type.Union([Type.Boolean(), Type.Null()])),
  require_admin_approval_after_user_signup: Type.Optional(Type.Union([Type.Boolean(), Type.Null()])),
  new_user_signups_cap: Type.Optional(Type.Union([Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }), Type.Null()])),
  max_personal_access_token_lifetime: Type.Optional(Type.Union([Type.Integer({ minimum: 1, maximum: 100_000 }), Type.Null()])),
});

const AccessLevel = Type.Object({ access_level: Type.Integer({ minimum: 0, maximum: 100 }) });

/** GET /projects and /projects/:id (lib/api/entities/project.rb; `permissions` from ProjectWithAccess). */
export const GitlabProjectSchema = Type.Object({
  id: Id,
  name: Text(255),
  path_with_namespace: Text(2048),
  web_url: Text(4096),
  permissions: Type.Optional(
    Type.Object({
      project_access: Type.Optional(Type.Union([AccessLevel, Type.Null()])),
      group_access: Type.Optional(Type.Union([AccessLevel, Type.Null()])),
    }),
  ),
});

/** GET /projects/:id/members/all/:user_id (lib/api/entities/member.rb). */
export const GitlabMemberSchema = Type.Object({ id: Id, username: Text(255), access_level: Type.Integer({ minimum: 0, maximum: 100 }) });

/**
 * A project hook (lib/api/entities/project_hook.rb); `alert_status` (`executable`, `temporarily_disabled`,
 * `disabled`) and `disabled_until` from GitLab 15.7 (app/models/concerns/web_hooks/auto_disabling.rb).
 */
export const GitlabHookSchema = Type.Object({
  id: Id,
  url: Text(8192),
  alert_status: Type.Optional(Text(64)),
  disabled_until: Type.Optional(Type.Union([Text(64), Type.Null()])),
});

export type GitlabProject = Static<typeof GitlabProjectSchema>;
export type GitlabMember = Static<typeof GitlabMemberSchema>;
export type GitlabHook = Static<typeof GitlabHookSchema>;
export type GitlabApplicationSettings = Static<typeof GitlabApplicationSettingsSchema>;
export type GitlabUser = Static<typeof GitlabUserSchema>;
export type GitlabPersonalAccessToken = Static<typeof GitlabPersonalAccessTokenSchema>;
export type GitlabApplication = Static<typeof GitlabApplicationSchema>;
export type GitlabVersion = Static<typeof GitlabVersionSchema>;

/** A compiled check of one answer shape: returns the value typed, or throws 502 gitlab_error naming `operation`. */
export type AnswerCheck<T> = (operation: string, value: unknown) => T;

/** Compiles `schema` once; the returned check's error detail carries our schema's words, never GitLab's text. */
export function answerCheck<S extends TSchema>(schema: S): AnswerCheck<Static<S>> {
  const validator = Compile(schema);
  return (operation, value) => {
    if (validator.Check(value)) return value;
    const first = validator.Errors(value).at(0);
    const where = first ? `${first.instancePath || '/'} ${first.message}` : 'unexpected shape';
    throw new AppError('gitlab_error', `GitLab's answer to ${operation} is not valid (${where})`);
  };
}

/**
 * A compiled check of one page of a GitLab list of `item`s (at most `maxItems`), each item cut down to
 * the fields `item` declares: what a long walk keeps is what the service uses, not what a hostile
 * GitLab padded its answer with. Throws like answerCheck.
 */
export function answerListCheck<S extends TObject>(item: S, maxItems: number): AnswerCheck<Static<S>[]> {
  const check = answerCheck(Type.Array(item, { maxItems }));
  const fields = Object.keys(item.properties);
  return (operation, value) =>
    check(operation, value).map((entry) => {
      const record = entry as Record<string, unknown>;
      return Object.fromEntries(fields.filter((field) => field in record).map((field) => [field, record[field]])) as Static<S>;
    });
}

/** URLs served to browsers from GitLab data must be http(s): anything else (`javascript:`, `data:`) is dropped. */
export function httpUrlOrNull(value: string | null | undefined): string | null {
  if (!value) return null;
  try {
    const url = new URL(value);
    return url.protocol === 'https:' || url.protocol === 'http:' ? url.href : null;
  } catch {
    return null;
  }
}

/** GitLab fixes OAuth access tokens at 2 h; a lifetime over a year is no real answer (and would overflow a Date). */
export const MAX_EXPIRES_IN_SECONDS = 366 * 24 * 3600;

/**
 * An OAuth token answer's `expires_in` (RFC 6749 §5.1, seconds), checked: undefined stays undefined,
 * anything but an integer in [1, MAX_EXPIRES_IN_SECONDS] throws 502 gitlab_error.
 */
export function checkedExpiresIn(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= MAX_EXPIRES_IN_SECONDS) return value;
  throw new AppError('gitlab_error', `GitLab's answer to POST /oauth/token is not valid (expires_in must be whole seconds up to ${String(MAX_EXPIRES_IN_SECONDS)})`);
}
