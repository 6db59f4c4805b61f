// Request and response models of the login, session and user-token routes.
import Type, { type Static } from 'typebox';
import { Uuid } from './common.js';

export const StartLoginQuery = Type.Object(
  {
    instance: Uuid('The instance id (from lookup or bootstrap)'),
    returnTo: Type.Optional(
      Type.String({
        maxLength: 2048,
        description: "Where to send the browser after login: a path on this service (starting with a single `/`) or an absolute URL on FRONTEND_URL's origin. Default: FRONTEND_URL, else `/`",
        examples: ['/welcome'],
      }),
    ),
  },
  { additionalProperties: false },
);

export const CallbackQuery = Type.Object({
  code: Type.Optional(Type.String({ maxLength: 1024, description: 'The authorization code GitLab issued' })),
  state: Type.Optional(Type.String({ maxLength: 1024, description: 'The state sent at start' })),
  error: Type.Optional(Type.String({ maxLength: 256, description: 'Set by GitLab when the login did not succeed, e.g. `access_denied`' })),
  error_description: Type.Optional(Type.String({ maxLength: 2048, description: "GitLab's explanation of `error`" })),
});

export const CallbackParams = Type.Object(
  { key: Type.String({ pattern: '^[A-Za-z0-9_-]{22}$', description: "The instance's callback key (the last segment of lookup's `callbackUrl`)" }) },
  { additionalProperties: false },
);

export const UserGitlabTokenParams = Type.Object({ id: Uuid('The user id (`user.id` of GET /me)') }, { additionalProperties: false });

export const Me = Type.Object(
  {
    user: Type.Object(
      {
        id: Uuid("This service's user id"),
        gitlabUserId: Type.Integer({ description: "The user's id on the GitLab instance" }),
        username: Type.String({ description: 'GitLab username' }),
        name: Type.String({ description: 'Display name on GitLab' }),
        email: Type.Union([Type.String(), Type.Null()], { description: 'Primary e-mail on GitLab, when GitLab shared it' }),
        avatarUrl: Type.Union([Type.String(), Type.Null()], { description: 'Avatar image URL on GitLab' }),
      },
      { additionalProperties: false, description: 'The logged-in user' },
    ),
    instance: Type.Object(
      {
        id: Uuid('The instance id'),
        url: Type.String({ description: 'The normalised instance URL' }),
      },
      { additionalProperties: false, description: 'The GitLab instance the user logged in through' },
    ),
  },
  { $id: 'Me', additionalProperties: false, description: 'The session: who is logged in, through which instance' },
);

export type MeBody = Static<typeof Me>;

export const UserGitlabToken = Type.Object(
  {
    accessToken: Type.String({ description: "The user's GitLab OAuth access token (use as `Authorization: Bearer`)" }),
    expiresAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], { description: 'When the access token expires; refreshed through GitLab when less than 5 minutes remained' }),
  },
  { $id: 'UserGitlabToken', additionalProperties: false, description: "A user's current GitLab access token" },
);

export type UserGitlabTokenBody = Static<typeof UserGitlabToken>;

/** A 302 answer: no body, a Location header (and cookies where the route sets them). */
export function redirectResponse(description: string, location: string, setCookie?: string) {
  return Type.Null({
    description,
    headers: {
      Location: { type: 'string', description: location },
      ...(setCookie ? { 'Set-Cookie': { type: 'string', description: setCookie } } : {}),
    },
  });
}
